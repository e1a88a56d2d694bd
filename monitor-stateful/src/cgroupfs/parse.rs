//! What the cgroup files say: their number formats, v1 and v2.

use super::{CpuQuota, IoStat, Limit};

/// v1 limits at or above this are "unlimited": the kernel reports
/// `PAGE_COUNTER_MAX` pages in bytes (0x7FFFFFFFFFFFF000 with 4 KiB pages),
/// which varies with the page size.
const V1_UNLIMITED: u64 = 1 << 62;

pub(crate) fn parse_u64(t: &str) -> Option<u64> {
    t.trim().parse().ok()
}

pub(crate) fn parse_i64(t: &str) -> Option<i64> {
    t.trim().parse().ok()
}

/// `max` or a number; v1's "unlimited" numbers read as [`Limit::Max`].
pub(crate) fn parse_limit(t: &str) -> Option<Limit> {
    let t = t.trim();
    if t == "max" {
        return Some(Limit::Max);
    }
    let v: u64 = t.parse().ok()?;
    Some(if v >= V1_UNLIMITED {
        Limit::Max
    } else {
        Limit::Value(v)
    })
}

/// v2 `cpu.max`: `<quota|max> <period>`.
pub(crate) fn parse_cpu_max(t: &str) -> Option<CpuQuota> {
    let mut it = t.split_ascii_whitespace();
    let quota = it.next()?;
    let period = it.next().map_or(Some(100_000), |p| p.parse().ok())?;
    let quota_us = if quota == "max" {
        None
    } else {
        Some(quota.parse().ok()?)
    };
    Some(CpuQuota {
        quota_us,
        period_us: period,
    })
}

/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N
/// dios=N` per device, summed. An empty file (no I/O yet) is all zeros.
pub(crate) fn parse_io_stat(t: &str) -> IoStat {
    let mut io = IoStat::default();
    for (k, v) in t
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse::<u64>().ok()?)))
    {
        match k {
            "rbytes" | "wbytes" => io.bytes = io.bytes.saturating_add(v),
            "rios" | "wios" => io.ops = io.ops.saturating_add(v),
            _ => {}
        }
    }
    io
}

/// The value of `key` in a flat-keyed file (`key value` per line).
pub(crate) fn keyed(t: &str, key: &str) -> Option<u64> {
    t.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}
