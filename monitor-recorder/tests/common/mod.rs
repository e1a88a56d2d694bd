//! Shared test fixtures: a realistic enriched event and small helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use monitor_recorder::{Config, EventReader, LogReader, ReadError, Record, RecordKind};
use serde::{Deserialize, Serialize};

/// Shaped like an enriched exec event: a few strings, argv, ancestry, ints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleEvent {
    pub kind: u16,
    pub pid: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cgroup_id: u64,
    pub boot_ns: u64,
    pub ret: i64,
    pub comm: String,
    pub exe: String,
    pub args: Vec<String>,
    pub container_id: String,
    pub container_name: String,
    pub image: String,
    pub ancestors: Vec<(u32, String)>,
}

pub fn sample(i: u64) -> SampleEvent {
    SampleEvent {
        kind: (i % 7) as u16,
        pid: 1000 + (i % 30000) as u32,
        tgid: 1000 + (i % 30000) as u32,
        ppid: 900 + (i % 50) as u32,
        uid: if i.is_multiple_of(3) { 0 } else { 1000 },
        gid: 1000,
        cgroup_id: 0x1_0000 + (i % 64),
        boot_ns: 1_000_000_000 + i * 1_700,
        ret: if i.is_multiple_of(11) { -1 } else { 0 },
        comm: "curl".into(),
        exe: "/usr/bin/curl".into(),
        args: vec![
            "curl".into(),
            "-s".into(),
            format!("http://10.0.0.{}/healthz", i % 250),
        ],
        container_id: "3f9a1c2b7d4e8f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718".into(),
        container_name: "web-frontend-7d9f".into(),
        image: "registry.example.com/shop/frontend:1.4.2".into(),
        ancestors: vec![(900, "sh".into()), (1, "tini".into())],
    }
}

/// Timestamp for event `i`: 1 ms apart from a fixed 2026 start.
pub fn ts(i: u64) -> u64 {
    1_790_000_000_000_000_000 + i * 1_000_000
}

pub fn small_config() -> Config {
    Config {
        max_segment_bytes: 16 * 1024,
        retention_bytes: None,
        retention_age: None,
        schema: "test.sample/1".into(),
        ..Config::default()
    }
}

/// Splits a read into records and problems.
pub fn read_all(path: &Path) -> (Vec<Record>, Vec<ReadError>) {
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for item in LogReader::open(path).expect("open log").records() {
        match item {
            Ok(r) => ok.push(r),
            Err(e) => errs.push(e),
        }
    }
    (ok, errs)
}

pub fn read_events(path: &Path) -> (Vec<SampleEvent>, Vec<ReadError>) {
    let log = LogReader::open(path).expect("open log");
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for item in EventReader::<SampleEvent>::new(&log) {
        match item {
            Ok(e) => {
                if let monitor_recorder::Body::Event(v) = e.body {
                    ok.push(v)
                }
            }
            Err(e) => errs.push(e),
        }
    }
    (ok, errs)
}

pub fn events_only(records: &[Record]) -> Vec<&Record> {
    records
        .iter()
        .filter(|r| r.kind == RecordKind::Event)
        .collect()
}

pub fn segments(dir: &Path) -> Vec<PathBuf> {
    monitor_recorder::dir::list_segments(dir)
        .unwrap()
        .into_iter()
        .map(|s| s.path)
        .collect()
}
