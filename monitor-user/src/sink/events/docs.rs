use super::*;
use crate::enrich::tests::*;
use monitor_common::decode::Record;
use monitor_common::records::*;
use monitor_common::{EventKind, SyscallId};
use std::time::Instant;

const DOC: &str = include_str!("../../../../docs/events.md");

/// One event of every kind, in a podman container, as in the docs.
pub(super) fn examples() -> Vec<Event> {
    // Podman's storage, as it is on disk for this container.
    let store = crate::testutil::TempDir::new("docpodman");
    std::fs::create_dir_all(store.path().join("overlay-containers")).unwrap();
    std::fs::write(
            store.path().join("overlay-containers/containers.json"),
            format!(
                r#"[{{"id":"{CID}","names":["cache-client"],"image":"d7e7","metadata":"{{\"image-name\":\"localhost/redis-tools:7\",\"name\":\"cache-client\"}}"}}]"#
            ),
        )
        .unwrap();
    let meta = crate::enrich::metadata::MetadataConfig {
        podman_roots: vec![store.path().to_owned()],
        docker_root: None,
        ..Default::default()
    };
    // 2026-11-22T06:18:00Z at boot time 0, events a few hours after boot.
    let mut e = with_state(
        crate::event::Clock::with_offset(1_795_328_280_000_000_000),
        meta,
    );
    const B: u64 = 12_345_000_000_000;
    let now = Instant::now();
    let path = format!("/libpod_parent/libpod-{CID}");
    let mut connect = connect_loopback(4242, 7, B + 4_000_000, -111);
    if let Record::Syscall(r) = &mut connect {
        r.header.ppid = 4200;
    }
    let mut answer = dns_answer(4242, 7, B + 3_900_000, "redis.example.com", [127, 0, 0, 1]);
    if let Record::Dns(r) = &mut answer {
        r.header.ppid = 4200;
    }
    let mut open = syscall(
        4242,
        7,
        B + 5_000_000,
        SyscallId::Openat,
        3,
        [libc::AT_FDCWD as u64, 0, libc::O_RDONLY as u64, 0, 0, 0],
        b"/etc/shadow",
        b"",
        b"",
    );
    let mut mount = syscall(
        4242,
        7,
        B + 6_000_000,
        SyscallId::Mount,
        -1,
        [0, 0, 0, libc::MS_BIND, 0, 0],
        b"/dev/sda1",
        b"/mnt",
        b"ext4",
    );
    for r in [&mut open, &mut mount] {
        if let Record::Syscall(r) = r {
            r.header.ppid = 4200;
        }
    }
    let mut module = ModuleRecord {
        header: header(
            EventKind::ModuleLoad,
            1311,
            1300,
            b"insmod",
            1,
            B + 8_000_000,
        ),
        name_len: 5,
        _pad: [0; 3],
        name: [0; SHORT_LEN],
    };
    module.name[..5].copy_from_slice(b"dummy");
    let recs = [
        cgroup_rec(true, 7, &path, B + 1_000),
        exec(
            4200,
            4190,
            7,
            B + 2_000,
            &[b"/bin/sh"],
            b"/usr/bin/busybox",
            0,
        ),
        fork(4200, 4190, 4242, 7, B + 3_000_000, libc::SIGCHLD as u64),
        exec(
            4242,
            4200,
            7,
            B + 3_100_000,
            &[b"/usr/bin/redis-cli", b"-h", b"127.0.0.1", b"ping"],
            b"/usr/bin/redis-cli",
            exec_flags::EXE_UPPER_LAYER,
        ),
        answer,
        connect,
        open,
        mount,
        exit(4242, 4200, 7, B + 9_500_000, 1 << 8),
        Record::ModuleLoad(Box::new(module)),
        Record::OomKill(OomRecord {
            header: header(EventKind::OomKill, 4200, 4190, b"sh", 7, B + 10_000_000),
            victim_tgid: 4200,
            _pad: 0,
        }),
        cgroup_rec(false, 7, &path, B + 11_000_123),
    ];
    recs.iter().map(|r| e.enrich(r, now)).collect()
}

#[test]
fn every_key_is_documented() {
    let mut missing = Vec::new();
    for ev in examples() {
        let Value::Object(m) = to_value(&ev) else {
            unreachable!()
        };
        for k in m.keys() {
            // `evt.rawarg.X` is documented with its `evt.arg.X`.
            let doc_key = k.replace("evt.rawarg.", "evt.arg.");
            if !DOC.contains(&format!("`{doc_key}`")) && !missing.contains(k) {
                missing.push(k.clone());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented keys in docs/events.md: {missing:?}"
    );
}

#[test]
fn doc_examples_are_current() {
    let stale: Vec<String> = examples()
        .iter()
        .map(|ev| {
            let mut line = Vec::new();
            write_line(ev, &mut line);
            String::from_utf8(line).unwrap().trim_end().to_owned()
        })
        .filter(|line| !DOC.contains(line.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/events.md lacks the current examples:\n{}",
        stale.join("\n")
    );
}
