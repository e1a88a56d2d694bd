use super::*;
use crate::event::Process;
use std::sync::Arc;

#[test]
fn image_names_split_like_falco() {
    assert_eq!(
        image_split("docker.io/library/nginx:1.25"),
        ("docker.io/library/nginx", Some("1.25"))
    );
    assert_eq!(
        image_split("localhost:5000/app"),
        ("localhost:5000/app", None)
    );
    assert_eq!(
        image_split("localhost:5000/app:v2"),
        ("localhost:5000/app", Some("v2"))
    );
    assert_eq!(
        image_split("quay.io/x/y@sha256:abcd"),
        ("quay.io/x/y", None)
    );
    assert_eq!(image_split("busybox"), ("busybox", None));
}

/// Falco's own example: the process, its parent (its own HOME and a
/// variable of its own) and a grandparent that shares the parent's.
#[test]
fn environments_like_falco() {
    let m: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_str(
        r#"{"evt.type": "execve", "proc.anames": ["bash", "sshd"],
                "proc.env": ["SHELL=/bin/bash", "SHELL_NEW=/bin/sh", "HOME=/home/user"],
                "proc.aenv": [["TEST_ENV_PARENT_LINEAGE=secret", "HOME=/home/user/parent"]]}"#,
    )
    .unwrap();
    let mut ev = crate::detect::fixtures::build_event(&m).unwrap();
    let process = Arc::make_mut(&mut ev.process);
    // The grandparent's is the same as the parent's: said once.
    Arc::make_mut(&mut process.exec)
        .ancestors
        .push(crate::event::Ancestor {
            pid: 1,
            name: "init".into(),
            exe: None,
            exepath: None,
            env: None,
        });
    let f = EventFields::new(&ev, "h");
    let get = |name: &str, arg: Option<&str>| {
        let monitor_rules::Lookup::Supported(field, _) = Field::lookup(name, arg) else {
            panic!("{name}")
        };
        match f.get(&field) {
            Some(Value::Str(s)) => Some(s.to_owned()),
            Some(Value::List(l)) => Some(format!("{} levels", l.len())),
            Some(_) => panic!("{name}: not text"),
            None => None,
        }
    };
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        get("proc.env", None),
        s("SHELL=/bin/bash SHELL_NEW=/bin/sh HOME=/home/user")
    );
    assert_eq!(get("proc.env", Some("HOME")), s("/home/user"));
    assert_eq!(get("proc.env", Some("SHELL")), s("/bin/bash"));
    assert_eq!(get("proc.env", Some("SHELL_NEW")), s("/bin/sh"));
    assert_eq!(get("proc.env", Some("NOPE")), None);
    assert_eq!(get("proc.aenv", Some("0")), get("proc.env", None));
    let parent = s("TEST_ENV_PARENT_LINEAGE=secret HOME=/home/user/parent");
    assert_eq!(get("proc.aenv", Some("1")), parent);
    assert_eq!(get("proc.aenv", Some("2")), parent);
    assert_eq!(get("proc.aenv", Some("3")), parent);
    assert_eq!(get("proc.aenv", Some("4")), None);
    assert_eq!(get("proc.aenv", Some("HOME")), s("/home/user/parent"));
    // The process's own variables are not its ancestors'.
    assert_eq!(get("proc.aenv", Some("SHELL")), None);
    assert_eq!(
        get("proc.aenv", Some("TEST_ENV_PARENT_LINEAGE")),
        s("secret")
    );
    assert_eq!(get("proc.aenv", None), s("3 levels"));
}

#[test]
fn paths_normalise_like_falco() {
    for (raw, norm) in [
        ("/srv/app/../../../etc/passwd", "/etc/passwd"),
        ("/etc/./shadow", "/etc/shadow"),
        ("//etc//shadow", "/etc/shadow"),
        ("/..", "/"),
        ("/a/b/..", "/a"),
    ] {
        assert!(needs_normalising(raw), "{raw}");
        assert_eq!(normalise(raw), norm, "{raw}");
    }
    // Hidden files, relative paths and peers stay as they are.
    for raw in [
        "/root/.ssh/id_rsa",
        "/etc/shadow",
        "../etc/passwd",
        "10.0.0.1:443",
        "/a/..b",
        "/a/.b/c.",
        "/a/",
        "/",
        "",
    ] {
        assert!(!needs_normalising(raw), "{raw}");
    }
    // The one-pass test agrees with the definition on every path made
    // of these pieces.
    let pieces = ["/", ".", "..", "a", "/.", "//", "./", ".a", "a."];
    let by_definition = |p: &str| {
        p.starts_with('/')
            && p.split('/').enumerate().any(|(i, c)| {
                c == "." || c == ".." || (c.is_empty() && i > 0 && i + 1 < p.split('/').count())
            })
    };
    for a in pieces {
        for b in pieces {
            for c in pieces {
                for d in pieces {
                    let p = format!("{a}{b}{c}{d}");
                    assert_eq!(needs_normalising(&p), by_definition(&p), "{p:?}");
                }
            }
        }
    }
}

#[test]
fn split_paths() {
    assert_eq!(split_path("/etc/shadow"), Some(("/etc", "shadow")));
    assert_eq!(split_path("/shadow"), Some(("/", "shadow")));
    assert_eq!(split_path("relative/x"), None);
}

/// `proc.aexepath[N]` and `proc.aexe[N]` like `proc.aname[N]` (0 the
/// process itself); without an index, a check holds when any ancestor's
/// passes it.
#[test]
fn ancestor_executables_like_falco() {
    use monitor_rules::{Filter, Lookup};
    let m: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_str(
        r#"{"evt.type": "execve", "proc.name": "insmod", "proc.exepath": "/usr/sbin/insmod",
            "proc.anames": ["sh", "java"]}"#,
    )
    .unwrap();
    let mut ev = crate::detect::fixtures::build_event(&m).unwrap();
    let exec = Arc::make_mut(&mut Arc::make_mut(&mut ev.process).exec);
    exec.ancestors[0].exepath = Some("/bin/busybox".into());
    exec.ancestors[1].exepath = Some("/opt/jdk/bin/java".into());
    exec.ancestors[1].exe = Some("java".into());
    let f = EventFields::new(&ev, "h");
    let get = |arg| {
        let Lookup::Supported(field, _) = Field::lookup("proc.aexepath", arg) else {
            panic!()
        };
        f.get(&field).map(|v| v.to_string())
    };
    assert_eq!(get(Some("0")).as_deref(), Some("/usr/sbin/insmod"));
    assert_eq!(get(Some("1")).as_deref(), Some("/bin/busybox"));
    assert_eq!(get(Some("2")).as_deref(), Some("/opt/jdk/bin/java"));
    assert_eq!(get(Some("3")), None);
    let holds = |c: &str| Filter::compile(c).unwrap().matches(&f);
    assert!(holds("proc.aexepath endswith /java"));
    assert!(!holds("proc.aexepath startswith /usr/"));
    assert!(holds(
        "proc.aexepath[2] endswith java and not proc.aexepath[1] = /usr/bin/sh"
    ));
    // proc.aexe: argv[0], as Falco's incubating rules read it.
    assert!(holds("proc.aexe[2] endswith java and proc.aexe = java"));
    assert!(!holds("proc.aexe[1] exists"));
}

/// Every supported field, with each argument the comparisons below try.
fn fields_to_compare() -> Vec<Field> {
    let args = [
        None,
        Some("0"),
        Some("1"),
        Some("2"),
        Some("PATH"),
        Some("app"),
    ];
    Field::supported_names()
        .flat_map(|name| {
            args.into_iter()
                .filter_map(move |arg| match Field::lookup(name, arg) {
                    monitor_rules::Lookup::Supported(f, _) => Some(f),
                    _ => None,
                })
        })
        .collect()
}

/// Events compared field by field: those `same` names must agree.
#[derive(Default)]
struct Comparison {
    /// Fields `same` names that were compared.
    checked: usize,
    /// Names of the other fields whose values differed.
    differing: std::collections::BTreeSet<String>,
}

impl Comparison {
    fn compare(&mut self, fields: &[Field], same: fn(&Field) -> bool, a: &Event, b: &Event) {
        let shown = |ev: &Event, f: &Field| format!("{:?}", EventFields::new(ev, "h").get(f));
        for f in fields {
            let (va, vb) = (shown(a, f), shown(b, f));
            if same(f) {
                assert_eq!(va, vb, "{} of {a:?} and {b:?}", f.name());
                self.checked += 1;
            } else if va != vb {
                self.differing.insert(f.name());
            }
        }
    }

    /// Enough compared, and each of `names` differed somewhere: the
    /// comparison can tell.
    fn assert_telling(&self, names: &[&str]) {
        assert!(self.checked > 10_000, "{}", self.checked);
        for name in names {
            assert!(
                self.differing.contains(*name),
                "{name} never differed: {:?}",
                self.differing
            );
        }
    }
}

/// Every field [`is_context_field`] names gives the same value for any two
/// events that share a process, container and cgroup, whatever else they
/// differ in (kind, data, number, times, baseline mark): what lets the
/// rules carry those checks' results from one event of a context to the
/// next. The other fields do differ between such events, so the
/// comparison can tell.
#[test]
fn context_fields_are_the_same_for_every_event_of_a_context() {
    let evs = crate::sink::recorder::tests::events();
    let fields = fields_to_compare();
    let mut cmp = Comparison::default();
    for a in &evs {
        let mut a = a.clone();
        // A start time, so that a duration would tell events apart.
        Arc::make_mut(&mut a.process).start_boot_ns = Some(1);
        for (j, b) in evs.iter().enumerate() {
            let b = Event {
                process: a.process.clone(),
                container: a.container.clone(),
                cgroup: a.cgroup.clone(),
                num: a.num + 1 + j as u64,
                boot_ns: a.boot_ns + 1_000 * (1 + j as u64),
                wall_ns: a.wall_ns + 1_000 * (1 + j as u64),
                ..b.clone()
            };
            cmp.compare(&fields, is_context_field, &a, &b);
        }
    }
    cmp.assert_telling(&[
        "evt.num",
        "evt.type",
        "fd.name",
        "proc.duration",
        "thread.cap_effective",
        "proc.in_baseline",
    ]);
}

/// Processes that run the command of each of `evs`' processes (its exec
/// context, the same `Arc`, under its name) as processes of their own:
/// every other process's pids, user, session and namespaces, and some
/// made up (a container's init, root, another user).
pub(crate) fn command_siblings(evs: &[Event]) -> Vec<Arc<Process>> {
    let mut own: Vec<Process> = evs.iter().map(|e| (*e.process).clone()).collect();
    let base = own[0].clone();
    own.push(Process {
        pid: 7001,
        tid: 7001,
        ppid: 7000,
        vpid: Some(1),
        uid: 0,
        euid: 0,
        user_name: Some("root".into()),
        ..base.clone()
    });
    own.push(Process {
        pid: 7002,
        tid: 7003,
        ppid: 1,
        vpid: Some(9),
        session: Some(crate::event::Session {
            tty: 34816,
            sid: 9,
            vpgid: 9,
        }),
        loginuid: Some(1000),
        login_name: Some("alice".into()),
        uid: 1000,
        gid: 1000,
        euid: 1000,
        egid: 1000,
        user_name: Some("alice".into()),
        group_name: Some("staff".into()),
        ns: crate::event::Namespaces {
            mnt: 1,
            pid: 2,
            net: 3,
            user: 4,
            uts: 5,
            ipc: 6,
            cgroup: 7,
        },
        ..base
    });
    let mut out = Vec::new();
    for e in evs {
        for p in &own {
            out.push(Arc::new(Process {
                exec: e.process.exec.clone(),
                name: e.process.name.clone(),
                ..p.clone()
            }));
        }
    }
    out
}

/// Every field [`is_command_field`] names gives the same value for any two
/// processes that run the same command (exec context and name) in the
/// same container and cgroup, whatever else they differ in: what lets the
/// rules carry those checks' results from one process of a command to
/// the next. The process's own fields do differ between them.
#[test]
fn command_fields_are_the_same_for_every_process_of_a_command() {
    let evs = crate::sink::recorder::tests::events();
    let siblings = command_siblings(&evs);
    let fields = fields_to_compare();
    assert!(fields
        .iter()
        .filter(|f| is_command_field(f))
        .all(is_context_field));
    let mut cmp = Comparison::default();
    for a in &evs {
        let of_command =
            |p: &&Arc<Process>| Arc::ptr_eq(&p.exec, &a.process.exec) && p.name == a.process.name;
        for p in siblings.iter().filter(of_command) {
            let b = Event {
                process: p.clone(),
                ..a.clone()
            };
            cmp.compare(&fields, is_command_field, a, &b);
        }
    }
    cmp.assert_telling(&[
        "proc.pid",
        "proc.vpid",
        "user.uid",
        "user.name",
        "user.loginname",
        "proc.tty",
        "proc.is_sid_leader",
        "ns.mnt",
    ]);
}
