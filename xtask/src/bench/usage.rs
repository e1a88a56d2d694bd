//! What a running process costs, counted from `/proc/PID`: CPU time in
//! clock ticks (`stat`: user + system, every thread, dead ones included)
//! and memory (`status`: resident now, resident peak, and the anonymous,
//! file and shared parts of it). Counts, not timings: they do not depend on
//! how loaded the machine is. Also the read syscalls it made (`io`:
//! `syscr`), a count of the agent's work that needs no tracer.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// One reading of a process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    /// utime + stime, in clock ticks ([`ticks_per_second`]).
    pub cpu_ticks: u64,
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// VmHWM (peak resident), KiB.
    pub peak_rss_kib: u64,
    /// RssAnon (heap, stacks), KiB.
    pub anon_kib: u64,
    /// RssFile (the binary's pages, and the ring buffer's: the kernel maps
    /// its data pages twice through an anonymous inode), KiB.
    pub file_kib: u64,
    /// RssShmem (shared memory), KiB.
    pub shmem_kib: u64,
    /// Read syscalls so far, every thread (`/proc/PID/io` `syscr`); 0 where
    /// the kernel has no task I/O accounting.
    pub read_syscalls: u64,
}

impl Usage {
    pub fn read(pid: u32) -> Result<Usage> {
        let dir = Path::new("/proc").join(pid.to_string());
        let stat = std::fs::read_to_string(dir.join("stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        let status = std::fs::read_to_string(dir.join("status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let mut u = parse_status(&status);
        u.cpu_ticks = parse_stat_ticks(&stat)
            .with_context(|| format!("/proc/{pid}/stat has no utime/stime"))?;
        u.read_syscalls = std::fs::read_to_string(dir.join("io"))
            .ok()
            .and_then(|t| parse_io_syscr(&t))
            .unwrap_or(0);
        Ok(u)
    }

    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime: fields 14 and 15, counted after the `)` that ends the
/// command name (which may itself hold spaces and parentheses).
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) is index 11.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// `syscr: N` of `/proc/PID/io`.
fn parse_io_syscr(io: &str) -> Option<u64> {
    io.lines()
        .find_map(|l| l.strip_prefix("syscr:")?.trim().parse().ok())
}

fn parse_status(status: &str) -> Usage {
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Usage {
        cpu_ticks: 0,
        rss_kib: kib("VmRSS:"),
        peak_rss_kib: kib("VmHWM:"),
        anon_kib: kib("RssAnon:"),
        file_kib: kib("RssFile:"),
        shmem_kib: kib("RssShmem:"),
        read_syscalls: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status() {
        let stat =
            "4242 (vigil (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 37 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat_ticks(stat), Some(287));
        let status = "Name:\tvigil\nVmHWM:\t  90000 kB\nVmRSS:\t  50000 kB\nRssAnon:\t  20000 kB\nRssFile:\t  10000 kB\nRssShmem:\t  20000 kB\n";
        let u = parse_status(status);
        assert_eq!(
            parse_io_syscr("rchar: 10\nwchar: 3\nsyscr: 42\nsyscw: 1\n"),
            Some(42)
        );
        assert_eq!(
            (
                u.rss_kib,
                u.peak_rss_kib,
                u.anon_kib,
                u.file_kib,
                u.shmem_kib
            ),
            (50000, 90000, 20000, 10000, 20000)
        );
    }

    #[test]
    fn reads_this_process() {
        let u = Usage::read(std::process::id()).unwrap();
        assert!(u.rss_kib > 0 && u.peak_rss_kib >= u.rss_kib);
        assert!(ticks_per_second() > 0.0);
    }
}
