//! Load the sensor and print every hook's status and every record as it
//! arrives (a debugging aid): `cargo run -p monitor-user --example sensor_dump [SECONDS]`.

use std::time::Duration;

use monitor_common::decode::Record;
use monitor_user::sensor::{Sensor, SensorConfig};

fn show(r: &Record) -> String {
    let h = r.header();
    let head = format!(
        "{:?} tgid={} tid={} ppid={} uid={} comm={:?} cg={} mntns={} utsns={}",
        r.kind(),
        h.tgid,
        h.tid,
        h.ppid,
        h.uid,
        String::from_utf8_lossy(h.comm()),
        h.cgroup_id,
        h.ns.mnt,
        h.ns.uts
    );
    let tail = match r {
        Record::Exec(e) => format!(
            "filename={:?} exe={:?} ino={} flags={:#x} argc={} args={:?} capeff={:#x}",
            String::from_utf8_lossy(e.filename().bytes),
            String::from_utf8_lossy(e.exe().bytes),
            e.exe_ino,
            e.flags,
            e.argc,
            e.args().map(String::from_utf8_lossy).collect::<Vec<_>>(),
            e.cap_effective
        ),
        Record::Fork(f) => format!("child={} flags={:#x}", f.child_tgid, f.clone_flags),
        Record::Exit(x) => format!("exit_code={:#x}", x.exit_code),
        Record::Syscall(s) => format!(
            "{:?} ret={} args={:x?} str0={:?} str1={:?} short={:?}",
            s.id(),
            s.ret,
            s.args,
            String::from_utf8_lossy(s.str0().bytes),
            String::from_utf8_lossy(s.str1().bytes),
            String::from_utf8_lossy(s.short().bytes)
        ),
        Record::ModuleLoad(m) => format!("module={:?}", String::from_utf8_lossy(m.name())),
        Record::CgroupMkdir(c) | Record::CgroupRmdir(c) => format!(
            "id={} hier={} level={} path={:?}",
            c.id,
            c.hierarchy_id,
            c.level,
            String::from_utf8_lossy(c.path().bytes)
        ),
        Record::OomKill(o) => format!("victim={}", o.victim_tgid),
        Record::Dns(d) => format!(
            "dns direction={} len={} payload={:02x?}",
            d.direction,
            d.len,
            &d.payload[..usize::from(d.len).min(d.payload.len())]
        ),
        Record::Throttled(t) => format!(
            "syscall={} held={} window_ns={}",
            t.syscall, t.count, t.window_ns
        ),
    };
    format!("{head} {tail}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    env_logger::init();
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut sensor = Sensor::load(&SensorConfig::default())?;
    for h in sensor.hooks() {
        println!("hook {} ({}): {:?}", h.name, h.kind, h.attached);
    }
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::timeout_at(deadline, sensor.read_batch(&mut out))
        .await
        .is_ok()
    {
        for r in out.drain(..) {
            println!("{}", show(&r));
        }
    }
    println!("stats: {:?}", sensor.stats());
    Ok(())
}
