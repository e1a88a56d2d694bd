use super::*;
use crate::event::sysargs::{ArgValue, SockAddr};
use crate::event::Runtime;
use monitor_common::records::*;
use monitor_common::{EventKind, SyscallId};
use std::time::Duration;

pub(crate) const CID: &str = "82ac0468654e2b83c032a86b876f3a797504f4fe22bf26f1510d37739331c198";

pub(crate) fn header(
    kind: EventKind,
    pid: u32,
    ppid: u32,
    comm: &[u8],
    cgroup_id: u64,
    boot_ns: u64,
) -> Header {
    let mut c = [0u8; COMM_LEN];
    let n = comm.len().min(COMM_LEN);
    c[..n].copy_from_slice(&comm[..n]);
    Header {
        kind: kind as u16,
        version: RECORD_VERSION,
        size: 0,
        boot_ns,
        cgroup_id,
        tgid: pid,
        tid: pid,
        ppid,
        uid: 0,
        gid: 0,
        euid: 0,
        egid: 0,
        _pad: 0,
        comm: c,
        ns: Namespaces {
            mnt: 4026531841,
            pid: 4026531836,
            ..Default::default()
        },
    }
}

pub(crate) fn exec(
    pid: u32,
    ppid: u32,
    cg: u64,
    boot: u64,
    argv: &[&[u8]],
    exe: &[u8],
    flags: u32,
) -> Record {
    let comm = argv
        .first()
        .map(|a| a.rsplit(|&b| b == b'/').next().unwrap_or(a))
        .unwrap_or(b"");
    let mut r = ExecRecord {
        header: header(EventKind::Exec, pid, ppid, comm, cg, boot),
        cap_effective: 0x1ff,
        cap_permitted: 0x1ff,
        exe_ino: 42,
        flags,
        args_len: 0,
        filename_len: 0,
        exe_start: 0,
        exe_len: 0,
        argc: argv.len() as u16,
        filename: [0; PATH_LEN],
        exe: [0; EXE_BUF_LEN],
        args: [0; ARGS_LEN],
        vpid: pid,
        _pad2: 0,
        tty: 0,
        loginuid: u32::MAX,
        sid: pid,
        vpgid: pid,
        exe_mode: 0,
        exe_uid: 0,
        exe_gid: 0,
        env_len: 0,
        cwd_start: 0,
        cwd_len: 0,
        _pad3: 0,
        stdin: StdFdRecord::CLOSED,
        stdout: StdFdRecord::CLOSED,
        cwd: [0; EXE_BUF_LEN],
        env: [0; ENV_LEN],
    };
    let mut off = 0;
    for a in argv {
        let n = a.len().min(ARGS_LEN - off);
        r.args[off..off + n].copy_from_slice(&a[..n]);
        off = (off + n + 1).min(ARGS_LEN);
    }
    r.args_len = off as u32;
    let f = argv.first().copied().unwrap_or(b"");
    r.filename[..f.len()].copy_from_slice(f);
    r.filename_len = f.len() as u16;
    let start = EXE_BUF_LEN - exe.len();
    r.exe[start..].copy_from_slice(exe);
    r.exe_start = start as u16;
    r.exe_len = exe.len() as u16;
    Record::Exec(Box::new(r))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn syscall(
    pid: u32,
    cg: u64,
    boot: u64,
    id: SyscallId,
    ret: i64,
    args: [u64; 6],
    s0: &[u8],
    s1: &[u8],
    short: &[u8],
) -> Record {
    let mut r = SyscallRecord {
        header: header(EventKind::Syscall, pid, 1, b"sh", cg, boot),
        syscall: id as u16,
        flags: 0,
        str0_len: s0.len() as u16,
        str1_len: s1.len() as u16,
        short_len: short.len() as u16,
        _pad: [0; 3],
        ret,
        args,
        str0: [0; PATH_LEN],
        str1: [0; PATH_LEN],
        short: [0; SHORT_LEN],
    };
    r.str0[..s0.len()].copy_from_slice(s0);
    r.str1[..s1.len()].copy_from_slice(s1);
    r.short[..short.len()].copy_from_slice(short);
    Record::Syscall(Box::new(r))
}

/// connect(3, 127.0.0.1:6379) as the sensor records it: the raw
/// `sockaddr_in` in str0, the socket's tuple (from port 40000) in str1.
pub(crate) fn connect_loopback(pid: u32, cg: u64, boot: u64, ret: i64) -> Record {
    let mut sa = (libc::AF_INET as u16).to_ne_bytes().to_vec();
    sa.extend(6379u16.to_be_bytes());
    sa.extend([127, 0, 0, 1]);
    sa.extend([0; 8]);
    let mut r = syscall(
        pid,
        cg,
        boot,
        SyscallId::Connect,
        ret,
        [3, 0, 16, 0, 0, 0],
        &sa,
        b"",
        b"",
    );
    if let Record::Syscall(s) = &mut r {
        s.flags |= monitor_common::records::syscall_flags::STR0_SOCKADDR
            | monitor_common::records::syscall_flags::STR1_TUPLE;
        let mut t = monitor_common::SockTuple {
            family: libc::AF_INET as u16,
            sock_type: libc::SOCK_STREAM as u16,
            protocol: libc::IPPROTO_TCP as u16,
            local_port: 40000,
            remote_port: 6379,
            ..Default::default()
        };
        t.local[..4].copy_from_slice(&[127, 0, 0, 1]);
        t.remote[..4].copy_from_slice(&[127, 0, 0, 1]);
        // SAFETY: SockTuple is plain integers without padding.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&raw const t).cast::<u8>(),
                std::mem::size_of::<monitor_common::SockTuple>(),
            )
        };
        s.str1[..bytes.len()].copy_from_slice(bytes);
        s.str1_len = bytes.len() as u16;
    }
    r
}

/// The answer to "`name` A?" (`name` → `ip`, TTL 300) as the sensor
/// captures it from a resolver at 10.88.0.1:53.
pub(crate) fn dns_answer(pid: u32, cg: u64, boot: u64, name: &str, ip: [u8; 4]) -> Record {
    let msg = dns::tests::answer_bytes(0x1234, name, ip, 300);
    let mut r = DnsRecord {
        header: header(EventKind::Dns, pid, 1, b"sh", cg, boot),
        tuple: monitor_common::SockTuple {
            family: libc::AF_INET as u16,
            sock_type: libc::SOCK_DGRAM as u16,
            protocol: libc::IPPROTO_UDP as u16,
            local_port: 40001,
            remote_port: 53,
            ..Default::default()
        },
        direction: dns_direction::RECEIVED,
        len: msg.len() as u16,
        truncated: 0,
        _pad: 0,
        payload: [0; DNS_PAYLOAD_LEN],
    };
    r.tuple.local[..4].copy_from_slice(&[10, 88, 0, 5]);
    r.tuple.remote[..4].copy_from_slice(&[10, 88, 0, 1]);
    r.payload[..msg.len()].copy_from_slice(&msg);
    Record::Dns(Box::new(r))
}

pub(crate) fn cgroup_rec(mkdir: bool, id: u64, path: &str, boot: u64) -> Record {
    let kind = if mkdir {
        EventKind::CgroupMkdir
    } else {
        EventKind::CgroupRmdir
    };
    let mut r = CgroupRecord {
        header: header(kind, 900, 1, b"runc", 1, boot),
        id,
        hierarchy_id: 0,
        level: 2,
        path_len: path.len() as u16,
        truncated: 0,
        _pad: 0,
        path: [0; PATH_LEN],
    };
    r.path[..path.len()].copy_from_slice(path.as_bytes());
    if mkdir {
        Record::CgroupMkdir(Box::new(r))
    } else {
        Record::CgroupRmdir(Box::new(r))
    }
}

pub(crate) fn fork(
    parent: u32,
    pparent: u32,
    child: u32,
    cg: u64,
    boot: u64,
    flags: u64,
) -> Record {
    Record::Fork(ForkRecord {
        header: header(EventKind::Fork, parent, pparent, b"sh", cg, boot),
        clone_flags: flags,
        child_tgid: child,
        child_tid: child,
    })
}

pub(crate) fn exit(pid: u32, ppid: u32, cg: u64, boot: u64, code: u32) -> Record {
    Record::Exit(ExitRecord {
        header: header(EventKind::Exit, pid, ppid, b"ls", cg, boot),
        exit_code: code,
        _pad: 0,
    })
}

/// An enricher with no host state: only records teach it.
pub(crate) fn bare() -> Enricher {
    with_state(
        Clock::with_offset(1_000_000_000_000_000_000),
        MetadataConfig {
            podman_roots: vec![],
            docker_root: None,
            ..Default::default()
        },
    )
}

pub(crate) fn with_state(clock: Clock, meta: MetadataConfig) -> Enricher {
    Enricher::new(
        ProcTable::new(ProcTableConfig {
            reap_delay_ns: 1_000,
            ..Default::default()
        }),
        Registry::new(
            None,
            RegistryConfig {
                rescan_interval: Duration::ZERO,
                grace: Duration::from_secs(5),
            },
        ),
        Metadata::new(meta),
        clock,
    )
}

#[test]
fn short_lived_container_is_attributed_from_mkdir() {
    let mut e = bare();
    let now = Instant::now();
    let path = format!("/libpod_parent/libpod-{CID}");
    e.enrich(&cgroup_rec(true, 777, &path, 10), now);
    let ev = e.enrich(
        &exec(
            50,
            40,
            777,
            20,
            &[b"/bin/ls", b"-la"],
            b"/usr/bin/ls",
            exec_flags::EXE_UPPER_LAYER,
        ),
        now,
    );
    assert_eq!(ev.container.id, &CID[..12]);
    assert_eq!(ev.container.full_id.as_deref(), Some(CID));
    assert_eq!(ev.container.runtime, Runtime::Podman);
    assert_eq!(ev.cgroup.path.as_deref(), Some(path.as_str()));
    assert_eq!(ev.process.exec.exe.as_deref(), Some("/bin/ls"));
    assert_eq!(ev.process.exec.exepath.as_deref(), Some("/usr/bin/ls"));
    assert_eq!(*ev.process.exec.args, ["-la"]);
    assert_eq!(ev.process.exec.is_exe_upper_layer, Some(true));
    assert_eq!(ev.process.exec.cap_effective, Some(0x1ff));
    assert_eq!(ev.process.exec.cap_permitted, Some(0x1ff));
    assert_eq!(ev.wall_ns, 1_000_000_000_000_000_020);
    assert_eq!(ev.evt_type(), "execve");
    // The cgroup is removed; queued records still resolve during grace.
    e.enrich(&cgroup_rec(false, 777, &path, 30), now);
    let ev = e.enrich(&exit(50, 40, 777, 40, 0), now + Duration::from_secs(1));
    assert_eq!(ev.container.id, &CID[..12]);
    // Later events of the process keep the capabilities of its exec.
    assert_eq!(ev.process.exec.cap_effective, Some(0x1ff));
    e.maintain(now + Duration::from_secs(10), 10_000);
    let ev = e.enrich(&exit(51, 40, 777, 50, 0), now + Duration::from_secs(10));
    assert_eq!(ev.container.id, "host");
    assert_eq!(ev.cgroup.path, None);
}

/// An `openat(AT_FDCWD, path)` of `pid`, child of `ppid`, returning `ret`.
pub(crate) fn openat(pid: u32, ppid: u32, boot: u64, ret: i64, path: &[u8]) -> Record {
    let mut rec = syscall(
        pid,
        1,
        boot,
        SyscallId::Openat,
        ret,
        [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0],
        path,
        b"",
        b"",
    );
    if let Record::Syscall(r) = &mut rec {
        r.header.ppid = ppid;
    }
    rec
}

#[test]
fn fork_exec_exit_keeps_the_process_table() {
    let mut e = bare();
    let now = Instant::now();
    e.enrich(&exec(10, 1, 1, 1, &[b"sh"], b"/usr/bin/sh", 0), now);
    let ev = e.enrich(&fork(10, 1, 11, 1, 2, libc::SIGCHLD as u64), now);
    let Data::Clone(c) = &ev.data else { panic!() };
    assert_eq!(c.child_pid, 11);
    e.enrich(
        &exec(11, 10, 1, 3, &[b"curl", b"http://x"], b"/usr/bin/curl", 0),
        now,
    );
    let ev = e.enrich(&openat(11, 10, 4, -2, b"/etc/shadow"), now);
    assert_eq!(ev.process.exec.pname.as_deref(), Some("sh"));
    assert_eq!(ev.process.exec.pexepath.as_deref(), Some("/usr/bin/sh"));
    assert_eq!(ev.process.exec.ancestors.first().map(|a| a.pid), Some(10));
    let Data::Syscall(s) = &ev.data else { panic!() };
    assert_eq!(s.res, "ENOENT");
    assert_eq!(s.fd_name.as_deref(), Some("/etc/shadow"));
    assert!(s.args.iter().any(|a| a.name == "flags"
        && matches!(&a.value, ArgValue::Flags { text, .. } if text == "O_RDONLY")));
    let ev = e.enrich(&exit(11, 10, 1, 5, 9), now);
    let Data::Exit(x) = &ev.data else { panic!() };
    assert_eq!((x.signal, x.status), (9, 0));
    assert_eq!(
        ev.process.exec.exepath.as_deref(),
        Some("/usr/bin/curl"),
        "exit shows the leaving process"
    );
    assert!(e.procs().get(11).is_some());
    e.maintain(now, 5 + 1_000);
    assert!(e.procs().get(11).is_none(), "reaped");
}

/// An exec the LSM hook refused describes the would-be process (its
/// memfd exe) and leaves the process table as it was; a dry-run one
/// is an exec like any other, flagged.
#[test]
fn a_refused_exec_describes_the_attempt_and_changes_nothing() {
    let mut e = bare();
    let now = Instant::now();
    e.enrich(&exec(10, 1, 1, 1, &[b"sh"], b"/usr/bin/sh", 0), now);
    let memfd = exec_flags::EXE_MEMFD;
    let ev = e.enrich(
        &exec(
            10,
            1,
            1,
            2,
            &[b"/proc/self/fd/3"],
            b"/memfd:x (deleted)",
            memfd | exec_flags::DENIED,
        ),
        now,
    );
    let Data::Exec(x) = &ev.data else { panic!() };
    assert!(x.denied());
    assert_eq!(x.enforcement.as_deref(), Some("denied"));
    assert_eq!(ev.process.exec.is_exe_from_memfd, Some(true));
    assert_eq!(
        ev.process.exec.exepath.as_deref(),
        Some("/memfd:x (deleted)")
    );
    let p = e.procs().get(10).unwrap();
    assert_eq!(p.exepath.as_deref(), Some("/usr/bin/sh"), "still sh");
    assert_eq!(p.is_exe_from_memfd, Some(false));
    let ev = e.enrich(
        &exec(
            10,
            1,
            1,
            3,
            &[b"3"],
            b"/memfd:x (deleted)",
            memfd | exec_flags::WOULD_DENY,
        ),
        now,
    );
    let Data::Exec(x) = &ev.data else { panic!() };
    assert!(!x.denied());
    assert_eq!(x.enforcement.as_deref(), Some("would_deny"));
    let p = e.procs().get(10).unwrap();
    assert_eq!(p.exepath.as_deref(), Some("/memfd:x (deleted)"));
}

#[test]
fn environments_are_read_at_exec_and_passed_down_once() {
    let dir = crate::testutil::TempDir::new("enrich-env");
    let root = dir.path();
    for (pid, env) in [
        (10, &b"HOME=/root\0MODE=parent\0"[..]),
        (11, b"HOME=/root\0MODE=parent\0"),
        (12, b"MODE=child\0"),
    ] {
        std::fs::create_dir_all(root.join(pid.to_string())).unwrap();
        std::fs::write(root.join(format!("{pid}/environ")), env).unwrap();
    }
    let mut e = bare().with_procfs(root.to_path_buf());
    let now = Instant::now();
    e.enrich(&exec(10, 1, 1, 1, &[b"sh"], b"/bin/sh", 0), now);
    e.enrich(&fork(10, 1, 11, 1, 2, libc::SIGCHLD as u64), now);
    e.enrich(&exec(11, 10, 1, 3, &[b"sh"], b"/bin/sh", 0), now);
    e.enrich(&fork(11, 10, 12, 1, 4, libc::SIGCHLD as u64), now);
    let ev = e.enrich(&exec(12, 11, 1, 5, &[b"env"], b"/usr/bin/env", 0), now);
    let x = &ev.process.exec;
    assert_eq!(x.env.as_deref(), Some(&["MODE=child".to_owned()][..]));
    let envs: Vec<_> = x
        .ancestors
        .iter()
        .map(|a| a.env.as_deref().map(<[String]>::len))
        .collect();
    // The parent's differs from the child's; the grandparent's is the
    // parent's, said once.
    assert_eq!(envs, [Some(2), None]);
    // Gone before its exec is handled: it keeps what it had (its
    // parent's, from the fork).
    e.enrich(&fork(12, 11, 13, 1, 6, libc::SIGCHLD as u64), now);
    let ev = e.enrich(&exec(13, 12, 1, 7, &[b"id"], b"/usr/bin/id", 0), now);
    assert_eq!(
        ev.process.exec.env.as_deref(),
        Some(&["MODE=child".to_owned()][..])
    );
}

#[test]
fn relative_opens_take_the_kernels_resolution() {
    let mut e = bare().with_procfs("/nonexistent-proc".into());
    let mut rec = syscall(
        30,
        1,
        1,
        SyscallId::Openat,
        3,
        [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0],
        b"../admin.conf",
        b"/etc/kubernetes/admin.conf",
        b"",
    );
    if let Record::Syscall(r) = &mut rec {
        r.flags |= syscall_flags::PATH_AT;
    }
    let ev = e.enrich(&rec, Instant::now());
    let Data::Syscall(s) = &ev.data else { panic!() };
    assert_eq!(s.fd_name.as_deref(), Some("/etc/kubernetes/admin.conf"));
    // Without it (nor procfs, nor an exec's cwd) the name stays relative.
    if let Record::Syscall(r) = &mut rec {
        r.str1_len = 0;
    }
    let ev = e.enrich(&rec, Instant::now());
    let Data::Syscall(s) = &ev.data else { panic!() };
    assert_eq!(s.fd_name.as_deref(), Some("../admin.conf"));
    assert!(s.args.iter().any(|a| a.name == "unresolved"));
}

#[test]
fn connect_and_truncation() {
    let mut e = bare();
    let mut sa = (libc::AF_INET as u16).to_ne_bytes().to_vec();
    sa.extend(6379u16.to_be_bytes());
    sa.extend([127, 0, 0, 1]);
    sa.extend([0; 8]);
    let mut rec = syscall(
        5,
        1,
        1,
        SyscallId::Connect,
        0,
        [3, 0, 16, 0, 0, 0],
        &sa,
        b"",
        b"",
    );
    if let Record::Syscall(r) = &mut rec {
        r.flags |= syscall_flags::STR0_SOCKADDR;
    }
    let ev = e.enrich(&rec, Instant::now());
    let Data::Syscall(s) = &ev.data else { panic!() };
    assert_eq!(
        s.sockaddr,
        Some(SockAddr::Inet {
            ip: "127.0.0.1".into(),
            port: 6379
        })
    );
    assert_eq!(s.fd_name.as_deref(), Some("127.0.0.1:6379"));
    let mut rec = syscall(
        5,
        1,
        1,
        SyscallId::Mount,
        0,
        [0, 0, 0, libc::MS_BIND, 0, 0],
        b"/dev/sda1",
        b"/mnt",
        b"ext4",
    );
    if let Record::Syscall(r) = &mut rec {
        r.flags |= syscall_flags::STR1_TRUNCATED;
    }
    let ev = e.enrich(&rec, Instant::now());
    assert_eq!(ev.truncated, ["evt.arg.dir"]);
}

#[test]
fn serde_round_trip_of_every_kind() {
    let mut e = bare();
    let now = Instant::now();
    let recs = [
        cgroup_rec(true, 5, &format!("/docker/{CID}"), 1),
        exec(10, 1, 5, 2, &[b"sh", b"-c", b"x\xff"], b"/bin/sh", 0),
        fork(10, 1, 11, 5, 3, 0),
        syscall(
            10,
            5,
            4,
            SyscallId::Setns,
            -1,
            [3, libc::CLONE_NEWNS as u64, 0, 0, 0, 0],
            b"",
            b"",
            b"",
        ),
        exit(10, 1, 5, 5, 256),
        Record::ModuleLoad(Box::new(ModuleRecord {
            header: header(EventKind::ModuleLoad, 1, 0, b"insmod", 1, 6),
            name_len: 3,
            _pad: [0; 3],
            name: [b'x'; SHORT_LEN],
        })),
        Record::OomKill(OomRecord {
            header: header(EventKind::OomKill, 1, 0, b"a", 1, 7),
            victim_tgid: 10,
            _pad: 0,
        }),
        cgroup_rec(false, 5, &format!("/docker/{CID}"), 8),
    ];
    for r in &recs {
        let ev = e.enrich(r, now);
        let text = serde_json::to_string(&ev).unwrap();
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ev, "{text}");
    }
}

/// With the exec context in the record, the event has it without any
/// procfs (the program may be long gone): environment, working directory,
/// standard fds and whether its user could write the executable.
#[test]
fn the_exec_context_comes_from_the_record() {
    let mut e = bare();
    let now = Instant::now();
    let mut rec = exec(20, 1, 1, 1, &[b"sh"], b"/usr/bin/sh", 0);
    let Record::Exec(r) = &mut rec else {
        unreachable!()
    };
    r.flags |= exec_flags::CONTEXT_KNOWN | exec_flags::ENV_TRUNCATED;
    (r.header.euid, r.header.egid) = (1000, 1000);
    (r.exe_mode, r.exe_uid, r.exe_gid) = (0o100775, 0, 1000);
    let env = b"HOME=/home/u\0TOKEN=s3cret\0CUT=abc";
    r.env[..env.len()].copy_from_slice(env);
    r.env_len = env.len() as u32;
    r.cwd[EXE_BUF_LEN - 8..].copy_from_slice(b"/dev/shm");
    (r.cwd_start, r.cwd_len) = ((EXE_BUF_LEN - 8) as u16, 8);
    r.stdin.mode = libc::S_IFSOCK | 0o777;
    r.stdin.tuple.family = libc::AF_INET as u16;
    r.stdin.tuple.protocol = libc::IPPROTO_TCP as u16;
    r.stdin.tuple.local = [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    r.stdin.tuple.remote = [10, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    (r.stdin.tuple.local_port, r.stdin.tuple.remote_port) = (40000, 4444);
    r.stdout.mode = libc::S_IFIFO | 0o600;
    (r.stdout.fs_magic, r.stdout.ino) = (0x5049_5045, 99);

    let ev = e.enrich(&rec, now);
    let x = &ev.process.exec;
    assert_eq!(
        x.env.as_deref(),
        Some(&["HOME=/home/u".to_owned(), "TOKEN=s3cret".to_owned()][..]),
        "the cut last entry is dropped"
    );
    assert!(ev.truncated.iter().any(|f| f == "proc.env"));
    assert_eq!(x.cwd.as_deref(), Some("/dev/shm/"));
    let stdin = x.stdin.as_ref().unwrap();
    assert_eq!(
        (stdin.kind.as_str(), stdin.name.as_str()),
        ("ipv4", "10.0.0.2:40000->10.0.0.9:4444")
    );
    let stdout = x.stdout.as_ref().unwrap();
    assert_eq!(
        (stdout.kind.as_str(), stdout.name.as_str()),
        ("pipe", "pipe:[99]")
    );
    assert_eq!(x.is_exe_writable, Some(true), "group-writable, own group");

    // Without the flag (an older kernel's record) and without procfs:
    // nothing is made up.
    let ev = e.enrich(&exec(21, 1, 1, 2, &[b"sh"], b"/usr/bin/sh", 0), now);
    let x = &ev.process.exec;
    assert_eq!((&x.env, &x.cwd, &x.stdin), (&None, &None, &None));
    assert_eq!(x.is_exe_writable, None);
}
