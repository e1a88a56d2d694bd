//! The rule-language names of the sampler's numbers.
//!
//! Rules read resource numbers as fields such as `container.fork_rate[10s]`
//! or `host.psi.memory.some_pct[60s]`. [`FieldRef::parse`] turns such a name
//! into a [`Metric`] and an optional window once, when rules are compiled, so
//! evaluating the field is a hash lookup plus a scan of at most one window's
//! samples ([`crate::sampler::Sampler::value`]). Field names, units and
//! formulas are listed in `docs/resources.md`.

use std::time::Duration;

use thiserror::Error;

use crate::psi::PsiResource;

/// Whether a metric takes a window, and what it means without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowUse {
    /// A rate or a count over a window: the window is required.
    Required,
    /// A gauge: the latest value, or with a window its maximum over it.
    Optional,
    /// A plain value: no window.
    None,
}

/// A number the sampler can answer for one container (`container.*`) or the
/// host (`host.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Processes created per second (kernel fork counter).
    ForkRate,
    /// Forks refused per second (EAGAIN from the kernel, or `pids.events` max).
    FailedForkRate,
    /// EMFILE/ENFILE failures per second.
    EmfileRate,
    /// OOM kills in the window.
    OomKills,
    /// CPU used, % of one CPU.
    CpuPct,
    /// CPU used, % of the cgroup's CFS quota.
    CpuQuotaPct,
    /// CPU used, % of all the host's CPUs.
    CpuHostPct,
    /// % of CFS periods in which the cgroup was throttled.
    CpuThrottledPct,
    /// Memory working set, % of the memory limit.
    MemoryUsagePct,
    /// Memory working set, bytes.
    MemoryUsage,
    /// Memory limit, bytes.
    MemoryLimit,
    /// Tasks, % of `pids.max`.
    PidsUsagePct,
    PidsCurrent,
    PidsMax,
    /// % of time some tasks of the cgroup stalled on the resource.
    PsiSomePct(PsiResource),
    /// % of time all tasks of the cgroup stalled on the resource.
    PsiFullPct(PsiResource),
    /// Host-wide PSI, % of time some tasks stalled.
    HostPsiSomePct(PsiResource),
    HostPsiFullPct(PsiResource),
    /// Block I/O, bytes read and written per second (`io.stat`).
    IoBytesRate,
    /// Block I/O, read and write operations per second (`io.stat`).
    IoOpsRate,
    /// Network bytes received and sent per second (kernel `cgroup_skb` counters).
    NetBytesRate,
    /// Network packets received and sent per second.
    NetPacketsRate,
    /// This container's share of all sampled containers' network bytes, %.
    NetBytesShare,
}

impl Metric {
    /// Every metric, for documentation and completion.
    pub fn all() -> Vec<Metric> {
        let mut v = vec![
            Metric::ForkRate,
            Metric::FailedForkRate,
            Metric::EmfileRate,
            Metric::OomKills,
            Metric::CpuPct,
            Metric::CpuQuotaPct,
            Metric::CpuHostPct,
            Metric::CpuThrottledPct,
            Metric::MemoryUsagePct,
            Metric::MemoryUsage,
            Metric::MemoryLimit,
            Metric::PidsUsagePct,
            Metric::PidsCurrent,
            Metric::PidsMax,
            Metric::IoBytesRate,
            Metric::IoOpsRate,
            Metric::NetBytesRate,
            Metric::NetPacketsRate,
            Metric::NetBytesShare,
        ];
        for r in PsiResource::ALL {
            v.extend([
                Metric::PsiSomePct(r),
                Metric::PsiFullPct(r),
                Metric::HostPsiSomePct(r),
                Metric::HostPsiFullPct(r),
            ]);
        }
        v
    }

    /// The full field name, e.g. `container.fork_rate`.
    pub fn name(self) -> String {
        let psi = |scope: &str, r: PsiResource, kind: &str| {
            format!("{scope}.psi.{}.{kind}_pct", r.name())
        };
        match self {
            Metric::ForkRate => "container.fork_rate".into(),
            Metric::FailedForkRate => "container.failed_fork_rate".into(),
            Metric::EmfileRate => "container.emfile_rate".into(),
            Metric::OomKills => "container.oom_kills".into(),
            Metric::CpuPct => "container.cpu.pct".into(),
            Metric::CpuQuotaPct => "container.cpu.quota_pct".into(),
            Metric::CpuHostPct => "container.cpu.host_pct".into(),
            Metric::CpuThrottledPct => "container.cpu.throttled_pct".into(),
            Metric::MemoryUsagePct => "container.memory.usage_pct".into(),
            Metric::MemoryUsage => "container.memory.usage".into(),
            Metric::MemoryLimit => "container.memory.limit".into(),
            Metric::PidsUsagePct => "container.pids.usage_pct".into(),
            Metric::PidsCurrent => "container.pids.current".into(),
            Metric::PidsMax => "container.pids.max".into(),
            Metric::PsiSomePct(r) => psi("container", r, "some"),
            Metric::PsiFullPct(r) => psi("container", r, "full"),
            Metric::HostPsiSomePct(r) => psi("host", r, "some"),
            Metric::HostPsiFullPct(r) => psi("host", r, "full"),
            Metric::IoBytesRate => "container.io.bytes_rate".into(),
            Metric::IoOpsRate => "container.io.ops_rate".into(),
            Metric::NetBytesRate => "container.net.bytes_rate".into(),
            Metric::NetPacketsRate => "container.net.packets_rate".into(),
            Metric::NetBytesShare => "container.net.bytes_share".into(),
        }
    }

    /// The metric called `name` (without a window).
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::all().into_iter().find(|m| m.name() == name)
    }

    pub fn window_use(self) -> WindowUse {
        match self {
            Metric::MemoryUsagePct
            | Metric::MemoryUsage
            | Metric::PidsUsagePct
            | Metric::PidsCurrent => WindowUse::Optional,
            Metric::MemoryLimit | Metric::PidsMax => WindowUse::None,
            _ => WindowUse::Required,
        }
    }

    /// True for `host.*` metrics, which need no container.
    pub fn is_host(self) -> bool {
        matches!(self, Metric::HostPsiSomePct(_) | Metric::HostPsiFullPct(_))
    }
}

/// A compiled field reference: a metric and its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    pub metric: Metric,
    pub window: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FieldError {
    #[error("unknown resource field `{0}`")]
    Unknown(String),
    #[error("field `{0}` needs a window, e.g. `{0}[10s]`")]
    WindowRequired(String),
    #[error("field `{0}` takes no window")]
    WindowNotAllowed(String),
    #[error("bad window `{window}` in `{field}`: expected a number and a unit (ms, s, m, h), e.g. `30s`")]
    BadWindow { field: String, window: String },
    #[error("window `{window}` in `{field}` is shorter than two sampling intervals ({min_ms} ms)")]
    WindowTooShort {
        field: String,
        window: String,
        min_ms: u64,
    },
    #[error("window `{window}` in `{field}` is longer than the sampler keeps ({max_secs} s)")]
    WindowTooLong {
        field: String,
        window: String,
        max_secs: u64,
    },
}

impl FieldRef {
    /// Parses `name` or `name[window]`.
    pub fn parse(text: &str) -> Result<FieldRef, FieldError> {
        let text = text.trim();
        let (name, window) = match text.split_once('[') {
            Some((n, rest)) => {
                let w = rest
                    .strip_suffix(']')
                    .ok_or_else(|| FieldError::BadWindow {
                        field: n.to_owned(),
                        window: rest.to_owned(),
                    })?;
                (n, Some(w))
            }
            None => (text, None),
        };
        let metric = Metric::from_name(name).ok_or_else(|| FieldError::Unknown(name.to_owned()))?;
        let window = match window {
            Some(w) => {
                Some(
                    crate::units::parse_duration(w).map_err(|_| FieldError::BadWindow {
                        field: name.to_owned(),
                        window: w.to_owned(),
                    })?,
                )
            }
            None => None,
        };
        match (metric.window_use(), window) {
            (WindowUse::Required, None) => Err(FieldError::WindowRequired(name.to_owned())),
            (WindowUse::None, Some(_)) => Err(FieldError::WindowNotAllowed(name.to_owned())),
            _ => Ok(FieldRef { metric, window }),
        }
    }

    /// Refuses windows the sampler cannot answer: longer than its history,
    /// or shorter than two sampling intervals (a rate over less than that
    /// would be measured over a span up to twice the window).
    pub fn check_window(&self, resolution: Duration, horizon: Duration) -> Result<(), FieldError> {
        let window = |w: Duration| format!("{}s", w.as_secs_f64());
        match self.window {
            Some(w) if w > horizon => Err(FieldError::WindowTooLong {
                field: self.metric.name(),
                window: window(w),
                max_secs: horizon.as_secs(),
            }),
            Some(w) if w < 2 * resolution => Err(FieldError::WindowTooShort {
                field: self.metric.name(),
                window: window(w),
                min_ms: (2 * resolution).as_millis() as u64,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for m in Metric::all() {
            assert_eq!(Metric::from_name(&m.name()), Some(m), "{}", m.name());
        }
    }

    #[test]
    fn fields_from_the_rules() {
        let f = FieldRef::parse("container.fork_rate[10s]").unwrap();
        assert_eq!(f.metric, Metric::ForkRate);
        assert_eq!(f.window, Some(Duration::from_secs(10)));
        assert_eq!(
            FieldRef::parse("container.pids.usage_pct").unwrap(),
            FieldRef {
                metric: Metric::PidsUsagePct,
                window: None
            }
        );
        assert_eq!(
            FieldRef::parse("container.cpu.throttled_pct[30s]")
                .unwrap()
                .metric,
            Metric::CpuThrottledPct
        );
        assert_eq!(
            FieldRef::parse("container.oom_kills[1m]").unwrap().window,
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            FieldRef::parse("host.psi.memory.some_pct[500ms]")
                .unwrap()
                .metric,
            Metric::HostPsiSomePct(PsiResource::Memory)
        );
    }

    #[test]
    fn field_errors() {
        assert!(matches!(
            FieldRef::parse("container.fork_rat[10s]"),
            Err(FieldError::Unknown(_))
        ));
        assert!(matches!(
            FieldRef::parse("container.fork_rate"),
            Err(FieldError::WindowRequired(_))
        ));
        assert!(matches!(
            FieldRef::parse("container.memory.limit[10s]"),
            Err(FieldError::WindowNotAllowed(_))
        ));
        for bad in ["[10]", "[s]", "[0s]", "[10x]", "[10s", "[-1s]", "[1.5s]"] {
            let text = format!("container.fork_rate{bad}");
            assert!(
                matches!(FieldRef::parse(&text), Err(FieldError::BadWindow { .. })),
                "{text}"
            );
        }
        let sec = Duration::from_secs(1);
        let horizon = Duration::from_secs(90);
        let f = FieldRef::parse("container.fork_rate[10m]").unwrap();
        assert!(matches!(
            f.check_window(sec, horizon),
            Err(FieldError::WindowTooLong { .. })
        ));
        let f = FieldRef::parse("container.fork_rate[1s]").unwrap();
        assert!(matches!(
            f.check_window(sec, horizon),
            Err(FieldError::WindowTooShort { .. })
        ));
        let f = FieldRef::parse("container.fork_rate[10s]").unwrap();
        assert_eq!(f.check_window(sec, horizon), Ok(()));
        let f = FieldRef::parse("container.pids.usage_pct").unwrap();
        assert_eq!(f.check_window(sec, horizon), Ok(()));
    }
}
