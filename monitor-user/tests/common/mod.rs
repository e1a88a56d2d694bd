//! Events built by hand, as the enricher would make them, for the CLI tests
//! and the replay benchmark: a container "web" whose shell reads
//! /etc/shadow, and host noise.
#![allow(dead_code)]

use std::sync::Arc;

use monitor_user::event::sysargs::{Arg, ArgValue};
use monitor_user::event::Runtime;
use monitor_user::event::*;

pub const CID: &str = "82ac0468654e2b83c032a86b876f3a797504f4fe22bf26f1510d37739331c198";
/// 2026-11-22T06:00:00Z
pub const T0: u64 = 1_795_327_200_000_000_000;

pub fn container(web: bool) -> Container {
    if web {
        Container {
            id: CID[..12].into(),
            full_id: Some(CID.into()),
            runtime: Runtime::Podman,
            name: Some("web".into()),
            image: Some("docker.io/library/nginx:1.27".into()),
            pod_uid: None,
            qos: None,
            meta: None,
            unresolved: None,
            creator: None,
        }
    } else {
        Container::default()
    }
}

/// The environment a program of the scenario runs with: about 1.2 KiB,
/// like a Kubernetes pod's (the service variables) or a login shell's,
/// ending in the `_=` a shell sets for each command it runs.
pub fn environment(name: &str) -> Env {
    let mut env: Vec<String> = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=web-7d4b9c8f6d-x2x9q",
        "HOME=/root",
        "LANG=C.UTF-8",
        "NGINX_VERSION=1.27.3",
        "NJS_VERSION=0.8.7",
        "PKG_RELEASE=1~bookworm",
    ]
    .iter()
    .map(|e| e.to_string())
    .collect();
    for svc in ["KUBERNETES", "WEB", "REDIS", "POSTGRES"] {
        let ip = "10.96.0.1";
        env.extend([
            format!("{svc}_SERVICE_HOST={ip}"),
            format!("{svc}_SERVICE_PORT=443"),
            format!("{svc}_PORT=tcp://{ip}:443"),
            format!("{svc}_PORT_443_TCP=tcp://{ip}:443"),
            format!("{svc}_PORT_443_TCP_PROTO=tcp"),
            format!("{svc}_PORT_443_TCP_ADDR={ip}"),
        ]);
    }
    env.push(format!("_=/bin/{name}"));
    env.into()
}

pub fn base(num: u64, secs: u64, pid: u32, ppid: u32, name: &str, web: bool, data: Data) -> Event {
    // A shell's child under the container's init (or cron under the
    // host's): each ancestor's environment differs from its child's in
    // its `_=`.
    let levels: &[(u32, &str)] = match ppid {
        1 => &[(1, "init")],
        _ => &[(ppid, "sh"), (1, "init")],
    };
    let ancestors = levels
        .iter()
        .map(|&(pid, name)| Ancestor {
            pid,
            name: name.into(),
            exe: Some(name.into()),
            exepath: Some(format!("/bin/{name}").into()),
            env: Some(environment(name)),
        })
        .collect();
    Event {
        num,
        boot_ns: secs * 1_000_000_000,
        wall_ns: T0 + secs * 1_000_000_000,
        process: Arc::new(Process {
            pid,
            tid: pid,
            ppid,
            name: name.into(),
            exec: Arc::new(ExecContext {
                exe: Some(name.into()),
                exepath: Some(format!("/bin/{name}").into()),
                env: Some(environment(name)),
                ancestors,
                ..Default::default()
            }),
            ..Default::default()
        }),
        container: Arc::new(container(web)),
        cgroup: Arc::new(if web {
            Cgroup {
                id: 77,
                path: Some(format!("/machine.slice/libpod-{CID}.scope/container")),
            }
        } else {
            Cgroup {
                id: 12,
                path: Some("/system.slice/cron.service".into()),
            }
        }),
        data,
        truncated: vec![],
        target_is_vigil: None,
        baseline: None,
    }
}

pub fn exec(
    num: u64,
    secs: u64,
    pid: u32,
    ppid: u32,
    name: &str,
    args: &[&str],
    web: bool,
) -> Event {
    let mut e = base(
        num,
        secs,
        pid,
        ppid,
        name,
        web,
        Data::Exec(ExecData {
            filename: format!("/bin/{name}"),
            argc: args.len() as u32 + 1,
            cap_effective: 0,
            cap_permitted: 0,
            exe_ino: 1,
            exe_on_overlay: true,
            enforcement: None,
        }),
    );
    Arc::make_mut(&mut Arc::make_mut(&mut e.process).exec).args =
        args.iter().map(|s| s.to_string()).collect();
    e
}

pub fn clone(num: u64, secs: u64, pid: u32, ppid: u32, child: u32, web: bool) -> Event {
    base(
        num,
        secs,
        pid,
        ppid,
        "sh",
        web,
        Data::Clone(CloneData {
            child_pid: child,
            child_tid: child,
            flags: 0x11,
            flags_text: "SIGCHLD".into(),
        }),
    )
}

pub fn exit(num: u64, secs: u64, pid: u32, ppid: u32, name: &str, status: u32, web: bool) -> Event {
    base(
        num,
        secs,
        pid,
        ppid,
        name,
        web,
        Data::Exit(ExitData {
            raw: status << 8,
            status,
            signal: 0,
            core_dumped: false,
        }),
    )
}

pub fn open(num: u64, secs: u64, pid: u32, path: &str, web: bool) -> Event {
    base(
        num,
        secs,
        pid,
        100,
        "cat",
        web,
        Data::Syscall(Box::new(SyscallData {
            name: "openat".into(),
            ret: 3,
            res: "SUCCESS".into(),
            raw_args: [0; 6],
            args: vec![
                Arg {
                    name: "name".into(),
                    value: ArgValue::Str(path.into()),
                },
                Arg {
                    name: "flags".into(),
                    value: ArgValue::Flags {
                        raw: 0x80000,
                        text: "O_RDONLY|O_CLOEXEC".into(),
                    },
                },
            ],
            fd_name: Some(path.into()),
            sockaddr: None,
            conn: None,
        })),
    )
}

/// A container "web" whose shell runs `cat /etc/shadow`, plus host noise.
pub fn scenario() -> Vec<Event> {
    let mut evs = vec![
        exec(1, 0, 100, 50, "sh", &["-c", "cat /etc/shadow"], true),
        clone(2, 1, 100, 50, 101, true),
        exec(3, 2, 101, 100, "cat", &["/etc/shadow"], true),
        open(4, 3, 101, "/etc/shadow", true),
        exec(5, 4, 900, 1, "cron", &[], false),
        exit(6, 5, 101, 100, "cat", 0, true),
        open(7, 6, 900, "/etc/crontab", false),
        exit(8, 7, 100, 50, "sh", 1, true),
    ];
    // As the enricher does: a process's later events carry what its exec
    // set (name, parent, executable, arguments).
    let mut execd: Vec<Arc<Process>> = Vec::new();
    for e in &mut evs {
        if matches!(e.data, Data::Exec(_)) {
            execd.push(e.process.clone());
        } else if let Some(p) = execd.iter().find(|p| p.pid == e.process.pid) {
            e.process = p.clone();
        }
    }
    evs
}

/// A network event: `name` (connect, accept4, listen, ...) of an IPv4 TCP
/// socket made by `who` (pid, process name, in container "web"), `client`
/// (None for a listener) and `server` as (ip, port).
pub fn net(
    num: u64,
    secs: u64,
    who: (u32, &str, bool),
    name: &str,
    client: Option<(&str, u16)>,
    server: (&str, u16),
    ret: i64,
) -> Event {
    let (pid, proc_name, web) = who;
    use monitor_user::event::sysargs::{Conn, Endpoint};
    let end = |(ip, port): (&str, u16)| Endpoint {
        ip: ip.into(),
        port,
    };
    let conn = Conn {
        family: "ipv4".into(),
        l4proto: "tcp".into(),
        client: client.map(end),
        server: Some(end(server)),
        local_is_server: name != "connect",
        connected: client.is_some(),
        server_name: None,
        client_name: None,
    };
    base(
        num,
        secs,
        pid,
        1,
        proc_name,
        web,
        Data::Syscall(Box::new(SyscallData {
            name: name.to_owned().into(),
            ret,
            res: monitor_user::event::sysargs::res_name(ret),
            raw_args: [3, 0, 0, 0, 0, 0],
            args: vec![Arg {
                name: "fd".into(),
                value: ArgValue::Int(3),
            }],
            fd_name: Some(conn.display()),
            sockaddr: None,
            conn: Some(conn),
        })),
    )
}
