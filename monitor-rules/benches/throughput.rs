//! Replay throughput of the compiled matcher: a synthetic event stream
//! through (a) 100+ generated rules of the kinds vigil's defaults use and
//! (b) the rules vigil loads from Falco's stable rule file, one core.
//! Run with `cargo bench -p monitor-rules`; prints events/s per set.

use std::hint::black_box;
use std::time::{Duration, Instant};

use monitor_rules::{
    Field, FieldArg, FieldId, FieldSource, LoadOptions, RuleSet, RuleSource, StrList, Value,
};

#[path = "../tests/common/falco_file.rs"]
mod falco_file;

/// An event shaped like the agent's: plain fields, matched by id.
struct Event {
    ty: &'static str,
    proc_name: String,
    exepath: String,
    cmdline: String,
    pname: String,
    anames: Vec<String>,
    pid: i64,
    uid: i64,
    container_id: &'static str,
    fd_name: Option<String>,
    fd_dir: Option<String>,
    sport: Option<i64>,
    flags: &'static str,
    upper: bool,
}

impl FieldSource for Event {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        Some(match f.id {
            FieldId::ProcName => Value::Str(&self.proc_name),
            FieldId::ProcExe | FieldId::ProcExepath => Value::Str(&self.exepath),
            FieldId::ProcCmdline | FieldId::ProcArgs => Value::Str(&self.cmdline),
            FieldId::ProcPname => Value::Str(&self.pname),
            FieldId::ProcAname => match f.arg {
                FieldArg::Index(0) => Value::Str(&self.proc_name),
                FieldArg::Index(i) => Value::Str(self.anames.get(i as usize - 1)?),
                _ => Value::List(StrList::Strings(&self.anames)),
            },
            FieldId::ProcAnames => Value::List(StrList::Strings(&self.anames)),
            FieldId::ProcPid | FieldId::ThreadTid => Value::Num(self.pid),
            FieldId::ProcPpid => Value::Num(1),
            FieldId::UserUid => Value::Num(self.uid),
            FieldId::ContainerId => Value::Str(self.container_id),
            FieldId::FdName => Value::Str(self.fd_name.as_deref()?),
            FieldId::FdDirectory => Value::Str(self.fd_dir.as_deref()?),
            FieldId::FdSport | FieldId::FdRport => Value::Num(self.sport?),
            FieldId::FdNum => Value::Num(3),
            FieldId::FdTypechar => Value::Str("f"),
            FieldId::EvtArg => Value::Str(self.flags),
            FieldId::EvtIsOpenRead => Value::Bool(self.flags.contains("O_RDONLY")),
            FieldId::EvtIsOpenWrite => Value::Bool(!self.flags.contains("O_RDONLY")),
            FieldId::ProcIsExeUpperLayer => Value::Bool(self.upper),
            FieldId::EvtRes => Value::Str("SUCCESS"),
            FieldId::EvtRawres => Value::Num(0),
            _ => return None,
        })
    }
    fn evt_type(&self) -> &str {
        self.ty
    }
}

/// `n` rules; `dense` puts them all on a handful of event types (worst
/// case), otherwise they spread over the ~25 types vigil's rules watch.
fn synthetic_rules(n: usize, dense: bool) -> String {
    let mut y = String::from(
        "- list: shells\n  items: [sh, bash, zsh, dash, ash]\n\
         - list: pkg\n  items: [apk, apt, apt-get, yum, dnf, pip, npm]\n\
         - list: net_tools\n  items: [curl, wget, nc, ncat, socat, nmap]\n\
         - list: runtime\n  items: [conmon, containerd-shim, crun, podman]\n\
         - macro: container\n  condition: container.id != host\n\
         - macro: spawned_process\n  condition: evt.type in (execve, execveat)\n\
         - macro: open_write\n  condition: evt.type in (open, openat, openat2) and evt.is_open_write=true\n\
         - macro: open_read\n  condition: evt.type in (open, openat, openat2) and evt.is_open_read=true\n",
    );
    // Syscalls vigil's default rules watch besides exec/open/connect/mount.
    const OTHER: [&str; 16] = [
        "setns",
        "unshare",
        "ptrace",
        "bpf",
        "init_module",
        "finit_module",
        "kexec_load",
        "chroot",
        "pivot_root",
        "setuid",
        "setgid",
        "capset",
        "userfaultfd",
        "process_vm_writev",
        "memfd_create",
        "open_by_handle_at",
    ];
    for i in 0..n {
        let kind = if dense {
            i % 10
        } else {
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9][i % 12]
        };
        let cond = match kind {
            0 => format!("spawned_process and container and proc.name in (shells) and proc.pname in (p{i}, runc) and not proc.aname in (runtime)"),
            1 => format!("spawned_process and container and proc.name in (pkg) and proc.cmdline icontains 'install{i}'"),
            2 => format!("spawned_process and proc.name in (net_tools) and proc.cmdline regex 'https?://x{i}[0-9]+'"),
            3 => format!("open_read and container and fd.name pmatch (/etc/secret{i}, /var/run/secrets/x{i}) and not proc.name in (runtime)"),
            4 => format!("open_write and fd.name startswith /proc/sys/kernel/x{i} and user.uid = 0"),
            5 => format!("open_read and fd.name glob '/proc/*/environ{i}' and not proc.name in (shells)"),
            6 => format!("evt.type = connect and container and fd.sport in (4444, {}, 31337) and not proc.name in (pkg)", 10000 + i),
            7 => format!("evt.type in (mount, umount2) and container and evt.arg.flags contains MS_BIND{i}"),
            8 => format!("spawned_process and proc.is_exe_upper_layer = true and proc.exepath startswith /tmp/x{i}"),
            _ if dense => format!("evt.type in (setns, unshare, ptrace, bpf, init_module) and container and proc.aname[2] = p{i}"),
            _ => format!("evt.type = {} and container and proc.aname[2] = p{i}", OTHER[i % OTHER.len()]),
        };
        y.push_str(&format!(
            "- rule: r{i}\n  desc: synthetic {i}\n  condition: \"{cond}\"\n  output: \"r{i} %proc.name %proc.cmdline %fd.name %container.id\"\n  priority: WARNING\n  tags: [breakout, T1611]\n"
        ));
        if i % 4 == 0 {
            y.push_str("  exceptions:\n  - name: known\n    fields: [proc.name, proc.pname]\n    values:\n      - [bash, sshd]\n      - [sh, cron]\n");
        }
    }
    y
}

fn events() -> Vec<Event> {
    let names = [
        "nginx", "bash", "python3", "sh", "curl", "node", "java", "apk", "postgres", "runc",
    ];
    let files = [
        "/etc/passwd",
        "/var/lib/x/data.db",
        "/proc/self/status",
        "/usr/lib/libc.so.6",
        "/etc/secret7",
        "/proc/1/environ5",
    ];
    let types: [&'static str; 10] = [
        "openat", "openat", "openat", "openat", "execve", "execve", "execve", "connect", "clone",
        "mount",
    ];
    (0..4096)
        .map(|i| {
            if i % 64 == 0 {
                // An interactive shell spawned by the runtime: matches.
                return Event {
                    ty: "execve",
                    proc_name: "sh".into(),
                    exepath: "/bin/sh".into(),
                    cmdline: "sh -i".into(),
                    pname: "runc".into(),
                    anames: vec!["runc".into(), "bash".into()],
                    pid: 1000 + i as i64,
                    uid: 0,
                    container_id: "0123456789ab",
                    fd_name: None,
                    fd_dir: None,
                    sport: None,
                    flags: "",
                    upper: false,
                };
            }
            let name = names[i % names.len()].to_owned();
            let ty = types[(i * 7) % types.len()];
            let f = files[(i * 3) % files.len()];
            Event {
                ty,
                exepath: format!("/usr/bin/{name}"),
                cmdline: format!("{name} --flag value{} http://example.com/path", i % 97),
                proc_name: name,
                pname: names[(i + 3) % names.len()].to_owned(),
                anames: vec!["containerd-shim".into(), "systemd".into()],
                pid: 1000 + i as i64,
                uid: (i % 3) as i64,
                container_id: if i % 5 == 0 { "host" } else { "0123456789ab" },
                fd_name: Some(f.to_owned()),
                fd_dir: Some(f.rsplit_once('/').map(|(d, _)| d).unwrap_or("/").to_owned()),
                sport: Some([80, 443, 4444, 5432][i % 4]),
                flags: if i % 2 == 0 {
                    "O_RDONLY|O_CLOEXEC"
                } else {
                    "O_WRONLY|O_CREAT"
                },
                upper: i % 11 == 0,
            }
        })
        .collect()
}

fn run(label: &str, set: &RuleSet, evs: &[Event]) {
    let per_type: Vec<String> = ["openat", "execve", "connect", "mount", "clone"]
        .iter()
        .map(|t| format!("{t}:{}", set.candidates_for(t)))
        .collect();
    // Warm up, then time at least one second of replay.
    let mut matches = 0u64;
    for e in evs {
        matches += set.matching(e).count() as u64;
    }
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        for e in evs {
            matches += black_box(set.matching(black_box(e)).count()) as u64;
        }
        n += evs.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    // On a shared machine wall time includes waiting for a core; the
    // thread's own CPU time gives the one-core rate.
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => format!(
            ", {:.2} M events/s per CPU-second",
            n as f64 / ((b - a) as f64 / 1e9) / 1e6
        ),
        _ => String::new(),
    };
    println!(
        "{label}: {} rules, candidates per type [{}], {n} events in {secs:.2}s = {:.2} M events/s wall{cpu} ({matches} matches)",
        set.rules().len(),
        per_type.join(" "),
        n as f64 / secs / 1e6,
    );
}

/// This thread's CPU time in ns (first field of /proc/thread-self/schedstat).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() {
    let evs = events();
    for (label, dense) in [
        ("120 rules over 25 event types", false),
        ("120 rules over 8 event types (dense)", true),
    ] {
        let (set, _) = RuleSet::load(
            &[RuleSource::new(
                "synthetic.yaml",
                synthetic_rules(120, dense),
            )],
            &LoadOptions::default(),
        )
        .expect("synthetic rules load");
        run(label, &set, &evs);
    }
    match falco_file::find() {
        Some(p) => {
            let (set, _) =
                RuleSet::load_paths(&[p], &LoadOptions::default()).expect("Falco rules load");
            run("falco stable (supported subset)", &set, &evs);
        }
        None => println!("falco stable: skipped, shared/falco-rules/falco_rules.yaml not found"),
    }
}
