//! Judging the stepped event-rate test: the highest rate of sensitive opens
//! the agent takes with zero losses (in the kernel or in the recorder),
//! from its final `stats` line per step.

use serde::Serialize;
use vigil_tests::AgentStats;

use super::worker::Sample;

/// A step counts as achieved if the generator reached this share of its target.
const ACHIEVED_SHARE: f64 = 0.9;

/// The default steps, in opens per second (300K: docs/performance.md's goal).
pub const DEFAULT_RATES: &[u64] = &[
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 300_000, 500_000,
];

#[derive(Debug, Serialize)]
pub struct Step {
    pub target_rate: u64,
    pub achieved_rate: f64,
    pub opens: u64,
    pub stats: AgentStats,
    pub verdict: Verdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Target reached, every open seen, nothing dropped.
    Clean,
    /// Nothing dropped, but the generator could not reach the target: the
    /// machine, not the agent, is the limit; higher steps are pointless.
    GeneratorLimited,
    /// Events were lost: in the kernel, or by the recorder.
    Dropped,
    /// No drops, yet fewer records than opens: the opens did not reach the
    /// agent at all (filter mismatch), so the step proves nothing.
    Unseen,
}

impl Step {
    pub fn new(target_rate: u64, sample: &Sample, stats: AgentStats) -> Step {
        let achieved_rate = sample.per_second();
        let verdict = if stats.losses() > 0 {
            Verdict::Dropped
        } else if stats.records < sample.iterations {
            Verdict::Unseen
        } else if achieved_rate < target_rate as f64 * ACHIEVED_SHARE {
            Verdict::GeneratorLimited
        } else {
            Verdict::Clean
        };
        Step {
            target_rate,
            achieved_rate,
            opens: sample.iterations,
            stats,
            verdict,
        }
    }

    /// Whether stepping up further can tell us more.
    pub fn keep_going(&self) -> bool {
        self.verdict == Verdict::Clean
    }
}

/// (last clean target, first dropped target) after the stepping phase.
pub fn bracket(steps: &[Step]) -> Option<(u64, u64)> {
    let hi = steps
        .iter()
        .find(|s| s.verdict == Verdict::Dropped)?
        .target_rate;
    let lo = steps
        .iter()
        .filter(|s| s.verdict == Verdict::Clean && s.target_rate < hi)
        .map(|s| s.target_rate)
        .max()?;
    Some((lo, hi))
}

/// The next rate to try between `lo` and `hi`, unless they are within 5%.
pub fn midpoint(lo: u64, hi: u64) -> Option<u64> {
    (hi > lo && hi - lo > lo / 20).then(|| lo + (hi - lo) / 2)
}

/// The bracket after trying `mid`; None when the step settles nothing
/// (the generator could not keep up, or the opens went unseen).
pub fn narrow(lo: u64, hi: u64, mid: u64, verdict: Verdict) -> Option<(u64, u64)> {
    match verdict {
        Verdict::Clean => Some((mid, hi)),
        Verdict::Dropped => Some((lo, mid)),
        Verdict::GeneratorLimited | Verdict::Unseen => None,
    }
}

/// The highest achieved rate among steps with zero drops and every open seen.
pub fn highest_clean(steps: &[Step]) -> Option<f64> {
    steps
        .iter()
        .filter(|s| matches!(s.verdict, Verdict::Clean | Verdict::GeneratorLimited))
        .map(|s| s.achieved_rate)
        .fold(None, |best, r| Some(best.map_or(r, |b: f64| b.max(r))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_tests::logline::RecorderStats;

    fn stats(records: u64, drops: u64) -> AgentStats {
        AgentStats {
            records,
            events: records,
            total_drops: drops,
            ..Default::default()
        }
    }

    fn sample(opens: u64, secs: f64) -> Sample {
        Sample {
            iterations: opens,
            elapsed_ns: (secs * 1e9) as u64,
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(
            Step::new(1000, &sample(5000, 5.0), stats(5100, 0)).verdict,
            Verdict::Clean
        );
        assert_eq!(
            Step::new(1000, &sample(5000, 5.0), stats(5100, 3)).verdict,
            Verdict::Dropped
        );
        assert_eq!(
            Step::new(1000, &sample(5000, 5.0), stats(12, 0)).verdict,
            Verdict::Unseen
        );
        assert_eq!(
            Step::new(100_000, &sample(300_000, 5.0), stats(300_000, 0)).verdict,
            Verdict::GeneratorLimited
        );
        // Nothing lost in the kernel, but the recorder could not keep up.
        let mut recorder_behind = stats(5100, 0);
        recorder_behind.recorder = Some(RecorderStats {
            written: 5000,
            dropped: 100,
            failed: 0,
        });
        assert_eq!(
            Step::new(1000, &sample(5000, 5.0), recorder_behind).verdict,
            Verdict::Dropped
        );
        assert!(Step::new(1000, &sample(5000, 5.0), stats(5000, 0)).keep_going());
        assert!(!Step::new(1000, &sample(5000, 5.0), stats(5000, 1)).keep_going());
    }

    #[test]
    fn bisection_narrows_between_clean_and_dropped() {
        let steps = vec![
            Step::new(10_000, &sample(50_000, 5.0), stats(50_000, 0)),
            Step::new(20_000, &sample(100_000, 5.0), stats(100_000, 0)),
            Step::new(50_000, &sample(250_000, 5.0), stats(249_000, 7)),
        ];
        assert_eq!(bracket(&steps), Some((20_000, 50_000)));
        assert_eq!(bracket(&steps[..2]), None);
        assert_eq!(midpoint(20_000, 50_000), Some(35_000));
        assert_eq!(midpoint(20_000, 20_500), None);
        assert_eq!(
            narrow(20_000, 50_000, 35_000, Verdict::Clean),
            Some((35_000, 50_000))
        );
        assert_eq!(
            narrow(20_000, 50_000, 35_000, Verdict::Dropped),
            Some((20_000, 35_000))
        );
        assert_eq!(narrow(20_000, 50_000, 35_000, Verdict::Unseen), None);
    }

    #[test]
    fn highest_clean_ignores_dropped_and_unseen_steps() {
        let steps = vec![
            Step::new(1000, &sample(5000, 5.0), stats(5000, 0)),
            Step::new(10_000, &sample(50_000, 5.0), stats(50_000, 0)),
            Step::new(100_000, &sample(500_000, 5.0), stats(400_000, 9)),
        ];
        assert_eq!(highest_clean(&steps), Some(10_000.0));
        assert_eq!(highest_clean(&steps[2..]), None);
        let unseen = vec![Step::new(1000, &sample(5000, 5.0), stats(0, 0))];
        assert_eq!(highest_clean(&unseen), None);
    }
}
