//! The enricher's answers to "who is this process": user and login names
//! from the process's own passwd, session and process-group leaders, the
//! names learned for a socket's ends, the image layer of its executable.

use super::tests::*;
use super::*;

#[test]
fn user_names_come_from_the_process_own_passwd() {
    let dir = crate::testutil::TempDir::new("usernames");
    let etc = dir.path().join("50/root/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("passwd"), "toor:x:0:0::/root:/bin/sh\n").unwrap();
    let mut e = bare().with_procfs(dir.path().to_owned());
    let now = Instant::now();
    let ev = e.enrich(
        &exec(50, 40, 777, 20, &[b"/bin/ls"], b"/usr/bin/ls", 0),
        now,
    );
    assert_eq!(ev.process.user_name.as_deref(), Some("toor"));
    // Without a readable passwd (another namespace, no such pid) there is no name.
    let mut e = bare();
    let ev = e.enrich(
        &exec(50, 40, 777, 20, &[b"/bin/ls"], b"/usr/bin/ls", 0),
        now,
    );
    assert_eq!(ev.process.user_name, None);
}

/// `user.loginname` is the login uid's name in the process's own passwd;
/// the session and process group leaders are the processes whose pid
/// (in the namespace) is the id, else the eldest ancestor sharing it.
#[test]
fn login_users_and_session_leaders_are_named() {
    const KNOWN: u32 = exec_flags::SESSION_KNOWN | exec_flags::LOGINUID_KNOWN;
    let dir = crate::testutil::TempDir::new("leaders");
    for pid in [50, 51, 52] {
        let etc = dir.path().join(format!("{pid}/root/etc"));
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("passwd"),
            "root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n",
        )
        .unwrap();
    }
    let mut e = bare().with_procfs(dir.path().to_owned());
    let now = Instant::now();
    // A login shell: its own session and group leader, login uid alice.
    let mut shell = exec(50, 40, 777, 20, &[b"sh"], b"/bin/sh", KNOWN);
    if let Record::Exec(r) = &mut shell {
        r.loginuid = 1001;
    }
    let ev = e.enrich(&shell, now);
    assert_eq!(ev.process.login_name.as_deref(), Some("alice"));
    let leader = ev.process.exec.sid_leader.as_ref().unwrap();
    assert_eq!(&*leader.name, "sh");
    assert_eq!(leader.exepath.as_deref(), Some("/bin/sh"));
    // A pipeline it forks: `cat | grep`, both in the shell's session, in
    // the group led by cat.
    e.enrich(&fork(50, 40, 51, 777, 21, libc::SIGCHLD as u64), now);
    e.enrich(&fork(50, 40, 52, 777, 22, libc::SIGCHLD as u64), now);
    let mut cat = exec(51, 50, 777, 23, &[b"cat", b"x"], b"/usr/bin/cat", KNOWN);
    let mut grep = exec(52, 50, 777, 24, &[b"grep", b"y"], b"/usr/bin/grep", KNOWN);
    for r in [&mut cat, &mut grep] {
        if let Record::Exec(r) = r {
            (r.sid, r.vpgid, r.loginuid) = (50, 51, 1001);
        }
    }
    e.enrich(&cat, now);
    let ev = e.enrich(&grep, now);
    let x = &ev.process.exec;
    assert_eq!(ev.process.login_name.as_deref(), Some("alice"));
    assert_eq!(&*x.sid_leader.as_ref().unwrap().name, "sh");
    assert_eq!(x.sid_leader.as_ref().unwrap().exe.as_deref(), Some("sh"));
    let group = x.vpgid_leader.as_ref().unwrap();
    assert_eq!(
        (group.name.as_ref(), group.exepath.as_deref()),
        ("cat", Some("/usr/bin/cat"))
    );
    // The agent's fields say the same, and who leads.
    let f = crate::detect::fields::EventFields::new(&ev, "h");
    let get = |name: &str| {
        use monitor_rules::{Field, FieldSource, Lookup};
        let Lookup::Supported(field, _) = Field::lookup(name, None) else {
            panic!("{name}")
        };
        f.get(&field).map(|v| v.to_string())
    };
    assert_eq!(get("proc.sname").as_deref(), Some("sh"));
    assert_eq!(get("proc.sid.exepath").as_deref(), Some("/bin/sh"));
    assert_eq!(get("proc.vpgid.name").as_deref(), Some("cat"));
    assert_eq!(get("proc.vpgid.exe").as_deref(), Some("cat"));
    assert_eq!(get("proc.is_sid_leader").as_deref(), Some("false"));
    assert_eq!(get("proc.is_vpgid_leader").as_deref(), Some("false"));
    assert_eq!(get("user.loginname").as_deref(), Some("alice"));
    // A session whose leader (99) is gone: its eldest process known
    // stands for it, as in Falco.
    let mut sh = exec(60, 1, 777, 25, &[b"sh"], b"/bin/sh", KNOWN);
    e.enrich(&fork(60, 1, 61, 777, 26, libc::SIGCHLD as u64), now);
    let mut worker = exec(61, 60, 777, 27, &[b"worker"], b"/srv/worker", KNOWN);
    for r in [&mut sh, &mut worker] {
        if let Record::Exec(r) = r {
            (r.sid, r.vpgid) = (99, 99);
        }
    }
    e.enrich(&sh, now);
    let ev = e.enrich(&worker, now);
    assert_eq!(&*ev.process.exec.sid_leader.as_ref().unwrap().name, "sh");
    // A login uid never set has no name; a leader outside the pid
    // namespace (id 0) is not named.
    let mut orphan = exec(52, 1, 777, 27, &[b"sleep"], b"/usr/bin/sleep", KNOWN);
    if let Record::Exec(r) = &mut orphan {
        (r.sid, r.vpgid) = (0, 0);
    }
    let ev = e.enrich(&orphan, now);
    assert_eq!(ev.process.login_name, None);
    assert_eq!(ev.process.exec.sid_leader, None);
    assert_eq!(ev.process.exec.vpgid_leader, None);
}

/// A socket's ends take the names the container's DNS answers gave their
/// addresses: the server's (`fd.sip.name`) and the client's
/// (`fd.cip.name`), and through them the local and remote end's.
#[test]
fn both_ends_of_a_socket_take_learned_names() {
    let mut e = bare();
    let now = Instant::now();
    e.enrich(
        &cgroup_rec(true, 7, &format!("/libpod_parent/libpod-{CID}"), 1),
        now,
    );
    // connect() from 10.0.0.5:40000 to 127.0.0.1:6379.
    let connect = |boot| {
        let mut r = connect_loopback(11, 7, boot, 0);
        if let Record::Syscall(s) = &mut r {
            // SAFETY: str1 holds a SockTuple (plain integers) written whole.
            let mut t: monitor_common::SockTuple =
                unsafe { std::ptr::read_unaligned(s.str1.as_ptr().cast()) };
            t.local[..4].copy_from_slice(&[10, 0, 0, 5]);
            unsafe { std::ptr::write_unaligned(s.str1.as_mut_ptr().cast(), t) };
        }
        r
    };
    let before = e.enrich(&connect(2), now);
    e.enrich(
        &dns_answer(11, 7, 3, "cache.example.com", [127, 0, 0, 1]),
        now,
    );
    e.enrich(&dns_answer(11, 7, 4, "me.example.com", [10, 0, 0, 5]), now);
    let ev = e.enrich(&connect(5), now);
    let names = |ev: &Event| {
        let f = crate::detect::fields::EventFields::new(ev, "h");
        ["fd.sip.name", "fd.cip.name", "fd.lip.name", "fd.rip.name"].map(|name| {
            use monitor_rules::{Field, FieldSource, Lookup};
            let Lookup::Supported(field, _) = Field::lookup(name, None) else {
                panic!("{name}")
            };
            f.get(&field).map(|v| v.to_string())
        })
    };
    assert_eq!(
        names(&before),
        [None, None, None, None],
        "nothing learned yet"
    );
    let (server, client) = (
        Some("cache.example.com".to_owned()),
        Some("me.example.com".to_owned()),
    );
    // A connect: the local end is the client.
    assert_eq!(names(&ev), [server.clone(), client.clone(), client, server]);
}

#[test]
fn an_image_binary_is_in_the_lower_layer() {
    let mut e = bare();
    let now = Instant::now();
    let layer = |e: &mut Enricher, pid, flags| {
        let ev = e.enrich(
            &exec(pid, 40, 777, 20, &[b"ls"], b"/usr/bin/ls", flags),
            now,
        );
        ev.process.exec.is_exe_lower_layer
    };
    assert_eq!(layer(&mut e, 51, exec_flags::EXE_OVERLAY), Some(true));
    let upper = exec_flags::EXE_OVERLAY | exec_flags::EXE_UPPER_LAYER;
    assert_eq!(layer(&mut e, 52, upper), Some(false));
    assert_eq!(layer(&mut e, 53, 0), Some(false));
    let unknown = exec_flags::EXE_OVERLAY | exec_flags::EXE_UNKNOWN;
    assert_eq!(layer(&mut e, 54, unknown), Some(false));
}
