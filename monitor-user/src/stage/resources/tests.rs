//! The resource stage's unit tests, on a fake cgroup tree.

use super::*;
use crate::detect::fields::EventFields;
use monitor_rules::FieldSource;

fn container_event(data: Data, pid: u32, uid: u32) -> Event {
    let mut ev = crate::detect::fixtures::build_event(&crate::detect::fixtures::parse_yaml_map(
        "{evt.type: execve, proc.name: sh}",
    ))
    .unwrap();
    ev.data = data;
    let p = Arc::make_mut(&mut ev.process);
    p.pid = pid;
    p.uid = uid;
    ev.cgroup = Arc::new(Cgroup {
        id: 4242,
        path: Some("/libpod_parent/libpod-test".into()),
    });
    ev.boot_ns = Timestamp::now().0;
    ev
}

fn stage() -> (crate::testutil::TempDir, ResourceStage) {
    // A pure v2 tree with one container's files.
    let dir = crate::testutil::TempDir::new("resources");
    let cg = dir.path().join("libpod_parent/libpod-test");
    std::fs::create_dir_all(&cg).unwrap();
    std::fs::write(cg.join("pids.current"), "60\n").unwrap();
    std::fs::write(cg.join("pids.max"), "64\n").unwrap();
    std::fs::write(cg.join("memory.current"), "1048576\n").unwrap();
    std::fs::write(cg.join("memory.max"), "2097152\n").unwrap();
    let mountinfo = dir.path().join("mountinfo");
    std::fs::write(
        &mountinfo,
        format!(
            "30 1 0:26 / {} rw,nosuid - cgroup2 cgroup2 rw\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let layout = CgroupLayout::from_mountinfo_file(&mountinfo).unwrap();
    (dir, ResourceStage::new(layout, None))
}

#[test]
fn emits_one_stats_event_per_container_with_the_rules_fields() {
    let (_dir, mut st) = stage();
    let f = match Field::lookup("container.fork_rate", Some("5s")) {
        monitor_rules::Lookup::Supported(f, _) => f,
        other => panic!("{other:?}"),
    };
    st.set_fields(std::slice::from_ref(&f));
    let exec = container_event(
        Data::Exec(crate::event::ExecData {
            filename: "/bin/sh".into(),
            argc: 1,
            cap_effective: 0,
            cap_permitted: 0,
            exe_ino: 1,
            exe_on_overlay: true,
            enforcement: None,
        }),
        100,
        1000,
    );
    st.observe(&exec);
    for i in 0..50 {
        let clone = container_event(
            Data::Clone(crate::event::CloneData {
                child_pid: 200 + i,
                child_tid: 200 + i,
                flags: 0,
                flags_text: String::new(),
            }),
            100,
            1000,
        );
        st.observe(&clone);
    }
    assert_eq!(st.containers(), 1);
    let evs = st.tick(None);
    assert_eq!(evs.len(), 1);
    let ev = &evs[0];
    assert_eq!(ev.evt_type(), "container_stats");
    assert_eq!(ev.container.id, exec.container.id);
    let Data::ContainerStats(s) = &ev.data else {
        panic!()
    };
    assert_eq!(s.get("container.pids.usage_pct"), Some(93.75));
    assert_eq!(s.get("container.pids.current"), Some(60.0));
    assert_eq!(s.get("container.memory.usage_pct"), Some(50.0));
    // 50 forks over a 5 s window.
    assert_eq!(s.get("container.fork_rate[5s]"), Some(10.0));
    assert_eq!(s.get("user.nproc"), Some(51.0));
    assert_eq!(s.nproc_top_container.as_deref(), Some(&*exec.container.id));
    // The rules engine reads them.
    let fields = EventFields::new(ev, "h");
    assert!(matches!(
        fields.get(&f),
        Some(monitor_rules::Value::Num(10))
    ));
    // A removed cgroup stops being sampled.
    let mut rm = container_event(
        Data::CgroupRmdir(crate::event::CgroupData {
            id: 4242,
            path: "/libpod_parent/libpod-test".into(),
            level: 2,
            hierarchy_id: 0,
        }),
        0,
        0,
    );
    Arc::make_mut(&mut rm.container).id = "host".into();
    st.observe(&rm);
    assert!(st.tick(None).is_empty());
}

#[test]
fn kernel_counters_replace_clone_counting() {
    let (_dir, mut st) = stage();
    let exec = container_event(
        Data::ModuleLoad {
            name: String::new(),
        },
        1,
        0,
    );
    st.observe(&exec);
    st.tick(Some(vec![(
        4242,
        CgroupCounters {
            forks: 10,
            emfile: 1,
            ..Default::default()
        },
    )]));
    std::thread::sleep(Duration::from_millis(1100));
    let evs = st.tick(Some(vec![(
        4242,
        CgroupCounters {
            forks: 110,
            fork_failures: 40,
            emfile: 301,
            enfile: 0,
            ..Default::default()
        },
    )]));
    let Data::ContainerStats(s) = &evs[0].data else {
        panic!()
    };
    // 100 forks, 40 failures, 300 EMFILE over a 10 s window.
    assert_eq!(s.get("container.fork_rate[10s]"), Some(10.0));
    assert_eq!(s.get("container.failed_fork_rate[10s]"), Some(4.0));
    assert_eq!(s.get("container.emfile_rate[10s]"), Some(30.0));
}

#[test]
fn default_rules_alert_on_stats_with_the_numbers_in_the_output() {
    let (set, _) = crate::detect::RuleSpec::default().load().unwrap();
    let fields = set.fields_used();
    assert!(fields
        .iter()
        .any(|f| f.name() == "container.failed_fork_rate[10s]"));
    let (det, _r) =
        crate::detect::Detector::new(set, crate::detect::RuleSpec::default(), "h".into());
    let ev = crate::detect::fixtures::build_event(&crate::detect::fixtures::parse_yaml_map(
        "{evt.type: container_stats, 'container.failed_fork_rate[10s]': 4200.4, 'container.fork_rate[10s]': 300, container.pids.current: 64, container.pids.usage_pct: 100}",
    ))
    .unwrap();
    let f = det.fields(&ev);
    let alerts: Vec<crate::sink::alert::Alert> = det
        .matching(&f)
        .map(|r| crate::sink::alert::Alert::new(r, &f))
        .collect();
    let names: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(
        names,
        ["Fork bomb in container", "Container near its pids limit"]
    );
    let out = &alerts[0].output;
    assert!(
        out.contains("failed_forks_per_s=4200 forks_per_s=300 pids=64 pids_pct=100"),
        "{out}"
    );
    assert_eq!(
        alerts[0].output_fields["container.failed_fork_rate[10s]"],
        4200
    );
}

#[test]
fn seeds_running_containers_from_the_registry() {
    let (dir, mut st) = stage();
    let busy = "1111111111111111111111111111111111111111111111111111111111111111";
    let idle = "2222222222222222222222222222222222222222222222222222222222222222";
    for (id, procs) in [(busy, "123\n"), (idle, "")] {
        let cg = dir.path().join(format!("libpod_parent/libpod-{id}"));
        std::fs::create_dir_all(&cg).unwrap();
        std::fs::write(cg.join("cgroup.procs"), procs).unwrap();
        std::fs::write(cg.join("pids.current"), "1\n").unwrap();
    }
    let mut enricher = crate::enrich::Enricher::from_host(crate::enrich::EnrichConfig {
        cgroup_root: Some(dir.path().to_owned()),
        ..Default::default()
    });
    assert_eq!(st.seed(&mut enricher), 1);
    let evs = st.tick(None);
    let ids: Vec<&str> = evs.iter().map(|e| e.container.id.as_str()).collect();
    assert_eq!(ids, [&busy[..12]]);
}
