//! Alert throttling: a token bucket per (rule, container), so a storm of
//! matching events gives a few alerts, not thousands.
//!
//! Each key may raise `burst` alerts at once, then one more every `period`.
//! Nothing is dropped silently: the bucket counts what it suppressed, the
//! next alert admitted for that key carries the count (`vigil.suppressed`),
//! and [`Throttle::suppressed_total`] feeds the `stats` line. Time is the
//! event's own boot-time stamp, so a replay throttles exactly like the live
//! run it came from.

use foldhash::{HashMap, HashMapExt};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// `--alert-rate`: `BURST/SECONDS` (a burst, then one alert per period), or
/// `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertRate {
    /// Alerts a key may raise at once; 0 means no throttling.
    pub burst: u32,
    /// Time to earn one more alert.
    pub period: Duration,
}

impl AlertRate {
    /// Throttling disabled.
    pub const OFF: AlertRate = AlertRate {
        burst: 0,
        period: Duration::ZERO,
    };

    pub fn is_off(&self) -> bool {
        self.burst == 0
    }
}

impl Default for AlertRate {
    /// Five at once, then one a minute, per rule and container.
    fn default() -> Self {
        AlertRate {
            burst: 5,
            period: Duration::from_secs(60),
        }
    }
}

impl fmt::Display for AlertRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_off() {
            f.write_str("off")
        } else {
            write!(f, "{}/{}", self.burst, self.period.as_secs_f64())
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AlertRateError {
    #[error("expected BURST/SECONDS (e.g. 5/60) or off, got {0:?}")]
    Syntax(String),
    #[error("burst must be at least 1 (use `off` to disable throttling)")]
    ZeroBurst,
    #[error("the period must be a positive number of seconds, got {0:?}")]
    Period(String),
}

impl FromStr for AlertRate {
    type Err = AlertRateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(AlertRate::OFF);
        }
        let (b, p) = s
            .split_once('/')
            .ok_or_else(|| AlertRateError::Syntax(s.to_owned()))?;
        let burst: u32 = b
            .trim()
            .parse()
            .map_err(|_| AlertRateError::Syntax(s.to_owned()))?;
        if burst == 0 {
            return Err(AlertRateError::ZeroBurst);
        }
        let p = p.trim().trim_end_matches('s');
        let secs: f64 = p
            .parse()
            .map_err(|_| AlertRateError::Period(p.to_owned()))?;
        if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
            return Err(AlertRateError::Period(p.to_owned()));
        }
        Ok(AlertRate {
            burst,
            period: Duration::from_secs_f64(secs),
        })
    }
}

/// What [`Throttle::admit`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write the alert; `suppressed` alerts of this key were held back
    /// since the last one written.
    Admit { suppressed: u64 },
    /// Hold it back (counted).
    Suppress,
}

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    /// Boot-time ns up to which tokens have been credited.
    credited_ns: u64,
    suppressed: u64,
}

impl Bucket {
    /// Credits the periods elapsed by `now_ns`, then takes a token or
    /// counts a suppression (also in `suppressed_total`).
    fn spend(&mut self, rate: AlertRate, now_ns: u64, suppressed_total: &mut u64) -> Verdict {
        let AlertRate { burst, period } = rate;
        let period_ns = (period.as_nanos() as u64).max(1);
        // Credit whole periods elapsed; events may come slightly out of order.
        let elapsed = now_ns.saturating_sub(self.credited_ns);
        let earned = elapsed / period_ns;
        if earned > 0 {
            self.tokens = (self.tokens as u64 + earned).min(burst as u64) as u32;
            self.credited_ns = if self.tokens == burst {
                now_ns
            } else {
                self.credited_ns + earned * period_ns
            };
        }
        if self.tokens == burst {
            // A full bucket starts its next period now, not in the past.
            self.credited_ns = self.credited_ns.max(now_ns);
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            let suppressed = std::mem::take(&mut self.suppressed);
            Verdict::Admit { suppressed }
        } else {
            self.suppressed += 1;
            *suppressed_total += 1;
            Verdict::Suppress
        }
    }
}

/// Above this many keys, buckets that are full again and owe no count are
/// forgotten (they behave exactly like fresh ones).
const PRUNE_AT: usize = 4096;

/// Token buckets per (rule, container id).
#[derive(Debug)]
pub struct Throttle {
    rate: AlertRate,
    /// Rule name → container id → bucket: looked up by `&str`, so a
    /// matching event allocates nothing once its key exists (and hashes
    /// with foldhash: SipHash cost more than the rest of an alert check).
    buckets: HashMap<Box<str>, HashMap<Box<str>, Bucket>>,
    /// Buckets in all of `buckets`.
    keys: usize,
    suppressed_total: u64,
}

impl Throttle {
    pub fn new(rate: AlertRate) -> Throttle {
        Throttle {
            rate,
            buckets: HashMap::new(),
            keys: 0,
            suppressed_total: 0,
        }
    }

    pub fn rate(&self) -> AlertRate {
        self.rate
    }

    /// May `rule` alert for `container` at `now_ns` (boot time)?
    pub fn admit(&mut self, rule: &str, container: &str, now_ns: u64) -> Verdict {
        if self.rate.is_off() {
            return Verdict::Admit { suppressed: 0 };
        }
        if let Some(b) = self
            .buckets
            .get_mut(rule)
            .and_then(|m| m.get_mut(container))
        {
            return b.spend(self.rate, now_ns, &mut self.suppressed_total);
        }
        if self.keys >= PRUNE_AT {
            self.prune(now_ns);
        }
        self.keys += 1;
        let mut b = Bucket {
            tokens: self.rate.burst,
            credited_ns: now_ns,
            suppressed: 0,
        };
        let verdict = b.spend(self.rate, now_ns, &mut self.suppressed_total);
        self.buckets
            .entry(rule.into())
            .or_default()
            .insert(container.into(), b);
        verdict
    }

    fn prune(&mut self, now_ns: u64) {
        let AlertRate { burst, period } = self.rate;
        let full_after = period.as_nanos() as u64 * burst as u64;
        for m in self.buckets.values_mut() {
            m.retain(|_, b| b.suppressed > 0 || now_ns.saturating_sub(b.credited_ns) < full_after);
        }
        self.buckets.retain(|_, m| !m.is_empty());
        self.keys = self.buckets.values().map(HashMap::len).sum();
    }

    /// Alerts held back since the start.
    pub fn suppressed_total(&self) -> u64 {
        self.suppressed_total
    }

    /// Alerts held back and not yet reported by a later alert of their key.
    pub fn suppressed_pending(&self) -> u64 {
        self.buckets
            .values()
            .flat_map(HashMap::values)
            .map(|b| b.suppressed)
            .sum()
    }

    /// Keys being tracked.
    pub fn keys(&self) -> usize {
        self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn rate(burst: u32, secs: u64) -> AlertRate {
        AlertRate {
            burst,
            period: Duration::from_secs(secs),
        }
    }

    #[test]
    fn parses_rates() {
        assert_eq!("5/60".parse(), Ok(rate(5, 60)));
        assert_eq!(" 3/10s ".parse(), Ok(rate(3, 10)));
        assert_eq!("off".parse(), Ok(AlertRate::OFF));
        assert_eq!(
            "2/0.5".parse::<AlertRate>().unwrap().period,
            Duration::from_millis(500)
        );
        assert_eq!("0/60".parse::<AlertRate>(), Err(AlertRateError::ZeroBurst));
        assert!(matches!(
            "5".parse::<AlertRate>(),
            Err(AlertRateError::Syntax(_))
        ));
        assert!(matches!(
            "5/-1".parse::<AlertRate>(),
            Err(AlertRateError::Period(_))
        ));
        assert!(matches!(
            "x/1".parse::<AlertRate>(),
            Err(AlertRateError::Syntax(_))
        ));
        assert_eq!(AlertRate::default().to_string(), "5/60");
        assert_eq!(
            AlertRate::default().to_string().parse(),
            Ok(AlertRate::default())
        );
    }

    #[test]
    fn a_storm_gives_the_burst_then_one_per_period() {
        let mut t = Throttle::new(rate(5, 60));
        // 10 000 matches in 10 s: 5 admitted.
        let mut admitted = 0;
        for i in 0..10_000u64 {
            if let Verdict::Admit { suppressed } = t.admit("Fork bomb", "abc", i * S / 1000) {
                assert_eq!(suppressed, 0);
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5);
        assert_eq!(t.suppressed_total(), 9_995);
        assert_eq!(t.suppressed_pending(), 9_995);
        // At 59 s nothing new; at 60 s one token, carrying the count.
        assert_eq!(t.admit("Fork bomb", "abc", 59 * S), Verdict::Suppress);
        assert_eq!(
            t.admit("Fork bomb", "abc", 60 * S),
            Verdict::Admit { suppressed: 9_996 }
        );
        assert_eq!(t.suppressed_pending(), 0);
        assert_eq!(t.admit("Fork bomb", "abc", 61 * S), Verdict::Suppress);
        assert_eq!(
            t.admit("Fork bomb", "abc", 120 * S),
            Verdict::Admit { suppressed: 1 }
        );
        assert_eq!(t.suppressed_total(), 9_997);
    }

    #[test]
    fn keys_are_rule_and_container() {
        let mut t = Throttle::new(rate(1, 60));
        assert!(matches!(t.admit("A", "c1", 0), Verdict::Admit { .. }));
        assert_eq!(t.admit("A", "c1", 1), Verdict::Suppress);
        assert!(matches!(t.admit("A", "c2", 2), Verdict::Admit { .. }));
        assert!(matches!(t.admit("B", "c1", 3), Verdict::Admit { .. }));
        assert_eq!(t.keys(), 3);
    }

    #[test]
    fn a_quiet_key_refills_to_the_burst_only() {
        let mut t = Throttle::new(rate(3, 10));
        for _ in 0..3 {
            assert!(matches!(t.admit("A", "c", 0), Verdict::Admit { .. }));
        }
        // An hour later: 3 again, not 360.
        let h = 3600 * S;
        for i in 0..3 {
            assert!(matches!(t.admit("A", "c", h + i), Verdict::Admit { .. }));
        }
        assert_eq!(t.admit("A", "c", h + 3), Verdict::Suppress);
    }

    #[test]
    fn off_admits_everything() {
        let mut t = Throttle::new(AlertRate::OFF);
        for i in 0..1000 {
            assert_eq!(t.admit("A", "c", i), Verdict::Admit { suppressed: 0 });
        }
        assert_eq!(t.keys(), 0);
    }

    #[test]
    fn out_of_order_times_do_not_underflow() {
        let mut t = Throttle::new(rate(1, 1));
        assert!(matches!(t.admit("A", "c", 10 * S), Verdict::Admit { .. }));
        assert_eq!(t.admit("A", "c", 5 * S), Verdict::Suppress);
        assert!(matches!(t.admit("A", "c", 11 * S), Verdict::Admit { .. }));
    }

    #[test]
    fn many_keys_are_pruned_but_owed_counts_stay() {
        let mut t = Throttle::new(rate(1, 1));
        assert!(matches!(t.admit("A", "owed", 0), Verdict::Admit { .. }));
        assert_eq!(t.admit("A", "owed", 1), Verdict::Suppress);
        for i in 0..(PRUNE_AT as u64 + 10) {
            t.admit("A", &format!("c{i}"), i * S);
        }
        assert!(t.keys() < PRUNE_AT + 10, "{}", t.keys());
        assert_eq!(t.suppressed_pending(), 1);
        assert_eq!(
            t.admit("A", "owed", (PRUNE_AT as u64 + 20) * S),
            Verdict::Admit { suppressed: 1 }
        );
    }
}
