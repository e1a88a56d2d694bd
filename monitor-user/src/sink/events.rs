//! Event → one JSON line with flat, Falco-named keys (`--events`).
//!
//! The schema is documented in `docs/events.md`. Guarantees: one event is
//! exactly one line of valid JSON (strings from the kernel are already
//! escaped text, see [`crate::event::text`], and JSON escaping covers the rest);
//! keys are sorted, so output is deterministic; fields whose value is
//! unknown are omitted rather than written as null; `evt.truncated` lists
//! the fields the kernel cut short.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::enrich::cgroup;
use crate::event::sysargs::{ArgValue, SockAddr};
use crate::event::{rfc3339, Data, Event};

/// The format of the events output: vigil's flat JSON (the default) or
/// OCSF ([`crate::sink::output::ocsf_events`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventsFormat {
    #[default]
    Json,
    Ocsf,
}

impl std::str::FromStr for EventsFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<EventsFormat, String> {
        match s {
            "json" => Ok(EventsFormat::Json),
            "ocsf" => Ok(EventsFormat::Ocsf),
            _ => Err(format!("unknown events format `{s}` (json or ocsf)")),
        }
    }
}

impl EventsFormat {
    /// Appends `ev` in this format and a line end to `out`.
    pub fn write_line(self, ev: &Event, out: &mut Vec<u8>) {
        match self {
            EventsFormat::Json => write_line(ev, out),
            EventsFormat::Ocsf => crate::sink::output::ocsf_events::write_line(ev, out),
        }
    }
}

/// The flat JSON object of an event.
pub fn to_value(ev: &Event) -> Value {
    // A BTreeMap keeps keys sorted even if serde_json's `preserve_order`
    // feature gets enabled by another crate of the build.
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    };
    put("time", json!(rfc3339(ev.wall_ns)));
    put("evt.num", json!(ev.num));
    put("evt.type", json!(ev.evt_type()));
    put("evt.rawtime", json!(ev.wall_ns));
    put("evt.boot_ns", json!(ev.boot_ns));

    let p = &ev.process;
    put("proc.pid", json!(p.pid));
    put("proc.tid", json!(p.tid));
    put("proc.vpid", json!(p.vpid));
    put("proc.ppid", json!(p.ppid));
    put("proc.name", json!(p.name));
    put("proc.exe", json!(p.exec.exe));
    put("proc.exepath", json!(p.exec.exepath));
    put("proc.args", json!(p.exec.args.join(" ")));
    put("proc.cmdline", json!(p.cmdline()));
    put("proc.pname", json!(p.exec.pname));
    put("proc.pexepath", json!(p.exec.pexepath));
    put(
        "proc.anames",
        json!(p.exec.ancestors.iter().map(|a| &a.name).collect::<Vec<_>>()),
    );
    put(
        "proc.apids",
        json!(p.exec.ancestors.iter().map(|a| a.pid).collect::<Vec<_>>()),
    );
    put("proc.is_exe_upper_layer", json!(p.exec.is_exe_upper_layer));
    put("proc.is_exe_lower_layer", json!(p.exec.is_exe_lower_layer));
    put("proc.is_exe_writable", json!(p.exec.is_exe_writable));
    put("proc.is_exe_from_memfd", json!(p.exec.is_exe_from_memfd));
    put("proc.start_boot_ns", json!(p.start_boot_ns));
    if let Some(s) = p.session {
        put("proc.tty", json!(s.tty));
        put("proc.sid", json!(s.sid));
        put("proc.vpgid", json!(s.vpgid));
    }
    put("user.loginuid", json!(p.loginuid.map(|u| u as i32)));
    put("user.uid", json!(p.uid));
    put("user.euid", json!(p.euid));
    put("group.gid", json!(p.gid));
    put("group.egid", json!(p.egid));
    put("user.name", json!(p.user_name.as_deref()));
    put("user.loginname", json!(p.login_name.as_deref()));
    put(
        "proc.sname",
        json!(p.exec.sid_leader.as_ref().map(|l| &l.name)),
    );
    put(
        "proc.vpgid.name",
        json!(p.exec.vpgid_leader.as_ref().map(|l| &l.name)),
    );
    put("group.name", json!(p.group_name.as_deref()));

    let c = &ev.container;
    put("container.id", json!(c.id));
    put("container.full_id", json!(c.full_id));
    put("container.runtime", json!(c.runtime.as_str()));
    put("container.name", json!(c.name));
    put("container.image", json!(c.image));
    put("k8s.pod.uid", json!(c.pod_uid));
    put("k8s.pod.qos", json!(c.qos.map(|q| q.as_str())));
    if let Some(m) = &c.meta {
        put("container.image.id", json!(m.image_id));
        put("container.image.digest", json!(m.image_digest));
        put("container.privileged", json!(m.privileged));
        put("container.start_ts", json!(m.created_ns));
        let mounts: Vec<_> = m
            .mounts
            .iter()
            .map(|x| json!({"source": x.source, "dest": x.dest, "read_only": x.read_only}))
            .collect();
        if !mounts.is_empty() {
            put("container.mounts", json!(mounts));
        }
        if !m.labels.is_empty() {
            put("container.labels", json!(m.labels));
        }
        if let Some(p) = &m.pod {
            put("k8s.pod.name", json!(p.name));
            if !p.namespace.is_empty() {
                put("k8s.ns.name", json!(p.namespace));
            }
            put("k8s.pod.labels", json!(p.labels));
        }
    }
    if let Some(why) = &c.unresolved {
        put("container.unresolved", json!(why.to_string()));
    }
    // Who started the container: on its start (its first process's exec),
    // not repeated on every event of it.
    let started = matches!(ev.data, Data::Exec(_)) && ev.process.vpid == Some(1);
    if let Some(k) = c.creator.as_ref().filter(|_| started) {
        put("container.creator", json!(k.to_string()));
        put("container.creator.pid", json!(k.pid));
        put("container.creator.uid", json!(k.uid));
        put(
            "container.creator.loginuid",
            json!(k.loginuid.map(|u| u as i32)),
        );
        put("container.creator.user", json!(k.user));
        put("container.creator.cmdline", json!(k.cmdline));
        put("container.creator.via", json!(k.via));
        if k.container_id.is_some() {
            put("container.creator.container_id", json!(k.container_id));
        }
        if !k.candidates.is_empty() {
            put("container.creator.candidates", json!(k.candidates));
        }
        put("container.creator.unresolved", json!(k.unresolved));
    }
    put("cgroup.id", json!(ev.cgroup.id));
    put("cgroup.path", json!(ev.cgroup.path));

    let n = &ev.process.ns;
    for (k, v) in [
        ("ns.mnt", n.mnt),
        ("ns.pid", n.pid),
        ("ns.net", n.net),
        ("ns.user", n.user),
        ("ns.uts", n.uts),
        ("ns.ipc", n.ipc),
        ("ns.cgroup", n.cgroup),
    ] {
        put(k, json!(v));
    }

    match &ev.data {
        Data::Exec(x) => {
            if x.denied() {
                put("evt.res", json!("EPERM"));
                put("evt.rawres", json!(-libc::EPERM));
                put("evt.failed", json!(true));
            } else {
                success(&mut put);
            }
            if let Some(e) = &x.enforcement {
                put("evt.arg.enforcement", json!(e));
            }
            put("evt.arg.filename", json!(x.filename));
            put("evt.arg.argc", json!(x.argc));
            // What the new program started with: said once, at its exec
            // (every later event of the process shares it).
            put("proc.env", json!(p.exec.env.as_deref()));
            put("proc.cwd", json!(p.exec.cwd));
            put("proc.exe_ino", json!(x.exe_ino));
            put("proc.is_exe_on_overlay", json!(x.exe_on_overlay));
            put(
                "thread.cap_effective",
                json!(crate::event::sysargs::cap_names(x.cap_effective)),
            );
            put(
                "thread.cap_permitted",
                json!(crate::event::sysargs::cap_names(x.cap_permitted)),
            );
        }
        Data::Clone(x) => {
            success(&mut put);
            put("evt.arg.flags", json!(x.flags_text));
            put("evt.rawarg.flags", json!(x.flags));
            put("evt.arg.child_pid", json!(x.child_pid));
            put("evt.arg.child_tid", json!(x.child_tid));
        }
        Data::Exit(x) => {
            put("evt.arg.status", json!(x.status));
            put("evt.arg.ret", json!(x.raw));
            put(
                "evt.arg.sig",
                json!(if x.signal == 0 {
                    None
                } else {
                    Some(crate::event::sysargs::signal_name(x.signal as i32))
                }),
            );
            put("evt.arg.core", json!(x.core_dumped));
        }
        Data::Syscall(s) => {
            put("evt.res", json!(s.res));
            put("evt.rawres", json!(s.ret));
            put("evt.failed", json!(s.ret < 0));
            for a in &s.args {
                let key = format!("evt.arg.{}", a.name);
                match &a.value {
                    ArgValue::Int(i) => put(&key, json!(i)),
                    ArgValue::Uint(u) => put(&key, json!(u)),
                    ArgValue::Str(t) => put(&key, json!(t)),
                    ArgValue::Flags { raw, text } => {
                        put(&key, json!(text));
                        put(&format!("evt.rawarg.{}", a.name), json!(raw));
                    }
                }
            }
            put("fd.name", json!(s.fd_name));
            match (&s.conn, &s.sockaddr) {
                (Some(c), _) => {
                    put("fd.sockfamily", json!("ip"));
                    put("fd.type", json!(c.family));
                    put("fd.l4proto", json!(c.l4proto));
                    if let Some(e) = &c.client {
                        put("fd.cip", json!(e.ip));
                        put("fd.cport", json!(e.port));
                    }
                    if let Some(e) = &c.server {
                        put("fd.sip", json!(e.ip));
                        put("fd.sport", json!(e.port));
                    }
                    if let Some(n) = &c.server_name {
                        put("fd.sip.name", json!(n));
                    }
                    if let Some(n) = &c.client_name {
                        put("fd.cip.name", json!(n));
                    }
                    put("fd.is_server", json!(c.local_is_server));
                }
                (None, Some(SockAddr::Inet { ip, port }))
                | (None, Some(SockAddr::Inet6 { ip, port, .. })) => {
                    put("fd.sockfamily", json!("ip"));
                    put("fd.sip", json!(ip));
                    put("fd.sport", json!(port));
                }
                (None, Some(SockAddr::Unix { .. })) => put("fd.sockfamily", json!("unix")),
                (None, Some(SockAddr::Other { family })) => put("fd.sockfamily", json!(family)),
                (None, None) => {}
            }
        }
        Data::ModuleLoad { name } => put("evt.arg.name", json!(name)),
        Data::CgroupMkdir(g) | Data::CgroupRmdir(g) => {
            put("evt.arg.id", json!(g.id));
            put("evt.arg.path", json!(g.path));
            put("evt.arg.level", json!(g.level));
            put("evt.arg.hierarchy_id", json!(g.hierarchy_id));
            // What the new/removed cgroup is: a container's, or host.
            let info = cgroup::parse(&g.path);
            put("evt.arg.container_id", json!(info.short_id()));
            put("evt.arg.runtime", json!(info.runtime.as_str()));
        }
        Data::OomKill {
            victim_pid,
            victim_name,
        } => {
            put("evt.arg.victim_pid", json!(victim_pid));
            put("evt.arg.victim_name", json!(victim_name));
        }
        Data::ContainerStats(st) => {
            for (k, v) in &st.values {
                put(k, json!(v));
            }
            if let Some(c) = &st.nproc_top_container {
                put("user.nproc_top_container", json!(c));
            }
            if let Some(c) = &st.inotify_top_container {
                put("user.inotify_top_container", json!(c));
            }
            if let Some(c) = &st.io_stalled_container {
                put("host.io_stalled_container", json!(c));
            }
            if let Some(fs) = &st.fs {
                put("fs.path", json!(fs.path));
                if let Some(c) = &fs.top_writer {
                    put("fs.top_writer", json!(c));
                }
                put("fs.writers", json!(fs.writers));
            }
        }
        Data::Dns(d) => {
            put("dns.is_response", json!(d.response));
            put("dns.id", json!(d.id));
            put("dns.name", json!(d.name));
            put("dns.type", json!(d.qtype));
            if let Some(r) = &d.rcode {
                put("dns.rcode", json!(r));
            }
            let answers: Vec<_> = d
                .answers
                .iter()
                .map(|a| json!({"name": a.name, "type": a.rtype, "data": a.data, "ttl": a.ttl}))
                .collect();
            put("dns.answers", json!(answers));
            if let Some(e) = &d.server {
                put("fd.sip", json!(e.ip));
                put("fd.sport", json!(e.port));
            }
            if let Some(e) = &d.error {
                put("dns.error", json!(e));
            }
        }
        Data::Throttled(t) => {
            put("evt.arg.by", json!(t.by.name()));
            put("evt.arg.kind", json!(t.kind));
            put("evt.arg.count", json!(t.count));
            put("evt.arg.window_ns", json!(t.window_ns));
        }
    }
    if let Some(b) = &ev.baseline {
        put("proc.in_baseline", json!(b.in_baseline));
        put("proc.baseline_diff", json!(b.diff));
    }
    if !ev.truncated.is_empty() {
        put("evt.truncated", json!(ev.truncated));
    }
    Value::Object(m.into_iter().collect::<Map<String, Value>>())
}

fn success(put: &mut impl FnMut(&str, Value)) {
    put("evt.res", json!("SUCCESS"));
    put("evt.rawres", json!(0));
    put("evt.failed", json!(false));
}

/// Append one event as a JSON line (with the trailing newline) to `out`.
pub fn write_line(ev: &Event, out: &mut Vec<u8>) {
    // Serializing a Value into a Vec cannot fail (all keys are strings).
    serde_json::to_writer(&mut *out, &to_value(ev)).expect("in-memory JSON serialization");
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::tests::*;
    use crate::event::text::{tests::Rng, unescape};
    use monitor_common::decode::Record;
    use monitor_common::records::*;
    use monitor_common::SyscallId;
    use std::time::Instant;

    fn line(ev: &Event) -> String {
        let mut out = Vec::new();
        write_line(ev, &mut out);
        String::from_utf8(out).expect("valid UTF-8")
    }

    fn obj(l: &str) -> Map<String, Value> {
        assert!(
            l.ends_with('\n') && l.matches('\n').count() == 1,
            "exactly one line: {l:?}"
        );
        match serde_json::from_str(l).expect("valid JSON") {
            Value::Object(m) => m,
            v => panic!("not an object: {v}"),
        }
    }

    #[test]
    fn exec_line_has_falco_fields() {
        let mut e = bare();
        let now = Instant::now();
        e.enrich(
            &cgroup_rec(true, 9, &format!("/libpod_parent/libpod-{CID}"), 1),
            now,
        );
        let ev = e.enrich(
            &exec(
                7,
                1,
                9,
                2,
                &[b"/bin/sh", b"-c", b"id"],
                b"/usr/bin/busybox",
                0,
            ),
            now,
        );
        let m = obj(&line(&ev));
        assert_eq!(m["evt.type"], "execve");
        assert_eq!(m["evt.res"], "SUCCESS");
        assert_eq!(m["proc.pid"], 7);
        assert_eq!(m["proc.name"], "sh");
        assert_eq!(m["proc.exe"], "/bin/sh");
        assert_eq!(m["proc.exepath"], "/usr/bin/busybox");
        assert_eq!(m["proc.args"], "-c id");
        assert_eq!(m["proc.cmdline"], "sh -c id");
        assert_eq!(m["container.id"], &CID[..12]);
        assert_eq!(m["container.full_id"], CID);
        assert_eq!(m["container.runtime"], "podman");
        assert_eq!(m["cgroup.id"], 9);
        assert_eq!(m["ns.mnt"], 4026531841u32);
        assert_eq!(m["thread.cap_effective"], "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP");
        assert!(m["time"].as_str().unwrap().ends_with('Z'));
        assert!(
            !m.contains_key("container.name"),
            "unknown fields are omitted"
        );
        assert!(!m.contains_key("evt.truncated"));
    }

    /// The environment and working directory the program started with are
    /// written on its exec (not on every later event); a cut environment is
    /// named in `evt.truncated`.
    #[test]
    fn exec_line_has_environment_and_cwd() {
        let dir = crate::testutil::TempDir::new("events-env");
        let root = dir.path();
        std::fs::create_dir_all(root.join("7")).unwrap();
        std::fs::write(
            root.join("7/environ"),
            b"HOME=/root\0GREETING=hello world\0",
        )
        .unwrap();
        std::os::unix::fs::symlink("/srv/app", root.join("7/cwd")).unwrap();
        let big = format!("A={}\0B=x\0", "y".repeat(crate::enrich::environ::ENV_MAX));
        std::fs::create_dir_all(root.join("8")).unwrap();
        std::fs::write(root.join("8/environ"), big).unwrap();
        let mut e = bare().with_procfs(root.to_path_buf());
        let now = Instant::now();
        let ev = e.enrich(&exec(7, 1, 9, 2, &[b"sh"], b"/bin/sh", 0), now);
        let m = obj(&line(&ev));
        assert_eq!(m["proc.env"], json!(["HOME=/root", "GREETING=hello world"]));
        assert_eq!(m["proc.cwd"], "/srv/app/");
        let open = e.enrich(
            &syscall(
                7,
                9,
                3,
                SyscallId::Openat,
                3,
                [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0],
                b"/etc/hosts",
                b"",
                b"",
            ),
            now,
        );
        let m = obj(&line(&open));
        assert!(!m.contains_key("proc.env"), "only on the exec: {m:?}");
        let ev = e.enrich(&exec(8, 1, 9, 4, &[b"sh"], b"/bin/sh", 0), now);
        let m = obj(&line(&ev));
        // The partial last entry is dropped, as in `proc.env`'s rules.
        assert_eq!(m["proc.env"], json!([]));
        assert_eq!(m["evt.truncated"], json!(["proc.env"]));
    }

    #[test]
    fn syscall_lines() {
        let mut e = bare();
        let now = Instant::now();
        let flags = (libc::O_WRONLY | libc::O_CREAT) as u64;
        let ev = e.enrich(
            &syscall(
                3,
                1,
                1,
                SyscallId::Openat,
                -13,
                [libc::AT_FDCWD as u64, 0, flags, 0o644, 0, 0],
                b"/etc/passwd",
                b"",
                b"",
            ),
            now,
        );
        let m = obj(&line(&ev));
        assert_eq!(m["evt.type"], "openat");
        assert_eq!(m["evt.res"], "EACCES");
        assert_eq!(m["evt.rawres"], -13);
        assert_eq!(m["evt.failed"], true);
        assert_eq!(m["evt.arg.flags"], "O_WRONLY|O_CREAT");
        assert_eq!(m["evt.rawarg.flags"], flags);
        assert_eq!(m["evt.arg.mode"], "0644");
        assert_eq!(m["evt.arg.dirfd"], -100);
        assert_eq!(m["fd.name"], "/etc/passwd");
        assert_eq!(m["container.id"], "host");
        let ev = e.enrich(
            &syscall(
                3,
                1,
                1,
                SyscallId::Mount,
                0,
                [0, 0, 0, libc::MS_BIND | libc::MS_REC, 0, 0],
                b"/",
                b"/host",
                b"none",
            ),
            now,
        );
        let m = obj(&line(&ev));
        assert_eq!(m["evt.arg.dev"], "/");
        assert_eq!(m["evt.arg.dir"], "/host");
        assert_eq!(m["evt.arg.type"], "none");
        assert_eq!(m["evt.arg.flags"], "MS_BIND|MS_REC");
        assert_eq!(m["evt.res"], "SUCCESS");
    }

    #[test]
    fn truncated_fields_are_listed() {
        let mut e = bare();
        let mut rec = exec(7, 1, 1, 2, &[b"a", b"b"], b"/x", 0);
        if let Record::Exec(r) = &mut rec {
            r.flags |= exec_flags::ARGS_TRUNCATED | exec_flags::EXE_TRUNCATED;
        }
        let m = obj(&line(&e.enrich(&rec, Instant::now())));
        assert_eq!(
            m["evt.truncated"],
            json!(["proc.args", "proc.cmdline", "proc.exepath"])
        );
    }

    /// Property: whatever bytes the kernel sends, the output is one valid
    /// JSON line and the original bytes can be recovered.
    #[test]
    fn random_bytes_always_give_one_valid_line() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let mut e = bare();
        let now = Instant::now();
        for i in 0..2_000u64 {
            let comm = rng.bytes(15);
            let arg = rng.bytes(60);
            let path = rng.bytes(200);
            let exe = rng.bytes(100);
            let mut rec = exec(100, 1, 1, i, &[b"x", &arg], &exe, 0);
            if let Record::Exec(r) = &mut rec {
                r.header.comm = [0; COMM_LEN];
                r.header.comm[..comm.len()].copy_from_slice(&comm);
            }
            let m = obj(&line(&e.enrich(&rec, now)));
            let comm_kept = monitor_common::decode::until_nul(&comm);
            assert_eq!(
                unescape(m["proc.name"].as_str().unwrap()).unwrap(),
                comm_kept
            );
            // An embedded NUL splits argv into several entries.
            if !arg.is_empty() && !arg.contains(&0) {
                assert_eq!(unescape(m["proc.args"].as_str().unwrap()).unwrap(), arg);
            }
            if !exe.is_empty() {
                assert_eq!(unescape(m["proc.exepath"].as_str().unwrap()).unwrap(), exe);
            }
            let rec = syscall(100, 1, i, SyscallId::Openat, 0, [0; 6], &path, b"", b"");
            let m = obj(&line(&e.enrich(&rec, now)));
            assert_eq!(unescape(m["fd.name"].as_str().unwrap()).unwrap(), path);
        }
    }
}

/// docs/events.md must document every key the writer can produce, and its
/// example lines must be what the writer produces.
#[cfg(test)]
mod docs;
