//! Fixed-memory sliding windows over timestamped samples.
//!
//! A [`Window`] keeps at most `capacity` samples, at most one per
//! `resolution` slot of time: a sample landing in the same slot as the newest
//! one replaces it. Memory is therefore bounded whatever the push rate (a
//! fork storm pushing a counter ten thousand times a second still costs one
//! slot a second), and the longest answerable window is
//! `capacity × resolution`.
//!
//! The same ring serves two kinds of series:
//! - *counters* (monotonic totals: CPU usec, forks, OOM kills), queried with
//!   [`Window::increase`], [`Window::rate`] and [`Window::slope`]; a value
//!   lower than its predecessor is a counter reset (new cgroup, reloaded
//!   kernel map) and counts as growth from zero;
//! - *gauges* (instant values: pids.current, memory in use), queried with
//!   [`Window::avg`], [`Window::max`] and [`Window::min`].

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Timestamp;

/// A bounded ring of `(time, value)` samples in time order.
#[derive(Clone, Debug)]
pub struct Window {
    samples: VecDeque<(Timestamp, f64)>,
    capacity: usize,
    resolution_ns: u64,
}

impl Window {
    /// A window keeping `capacity` samples (at least 2), one per `resolution`.
    pub fn new(capacity: usize, resolution: Duration) -> Window {
        let capacity = capacity.max(2);
        Window {
            // Grown on demand: a series that only ever sees a few samples
            // never pays for the whole ring.
            samples: VecDeque::new(),
            capacity,
            resolution_ns: (resolution.as_nanos() as u64).max(1),
        }
    }

    /// The longest span this window can answer for.
    pub fn horizon(&self) -> Duration {
        Duration::from_nanos(self.resolution_ns * self.capacity as u64)
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Adds a sample. A sample stamped before the newest one is taken as
    /// arriving now (events from different CPUs reach the agent slightly
    /// out of order; a running total must not lose them); one in the newest
    /// sample's slot replaces it.
    pub fn push(&mut self, at: Timestamp, value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut at = at;
        if let Some(&(last_t, _)) = self.samples.back() {
            at = at.max(last_t);
            if at.0 / self.resolution_ns == last_t.0 / self.resolution_ns && self.samples.len() > 1
            {
                // Keep the first sample of a series intact: it is the base
                // every later increase is measured from.
                *self.samples.back_mut().expect("non-empty") = (at, value);
                return;
            }
        }
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back((at, value));
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<(Timestamp, f64)> {
        self.samples.back().copied()
    }

    /// The newest value.
    pub fn last(&self) -> Option<f64> {
        self.latest().map(|(_, v)| v)
    }

    /// Index of the base sample for a counter query over `(now - over, now]`:
    /// the newest sample at or before the window start, else the oldest.
    fn base_index(&self, now: Timestamp, over: Duration) -> Option<usize> {
        if self.samples.is_empty() {
            return None;
        }
        // Samples are time-ordered: the first index with t > start, minus one.
        let after = self.count_until(window_start(now, over));
        Some(after.saturating_sub(1))
    }

    /// Number of samples at or before `start` (none when the window reaches
    /// back before time zero).
    fn count_until(&self, start: Option<Timestamp>) -> usize {
        let (Some(start), Some(&(newest, _))) = (start, self.samples.back()) else {
            return 0;
        };
        // Samples come about one per resolution, so the answer is close to
        // the window's length in slots back from the newest: step from that
        // guess rather than search (every field of every container is
        // asked each sampling pass).
        let slots_back = newest.0.saturating_sub(start.0) / self.resolution_ns;
        let mut i = self
            .samples
            .len()
            .saturating_sub(usize::try_from(slots_back).unwrap_or(usize::MAX));
        while i > 0 && self.samples[i - 1].0 > start {
            i -= 1;
        }
        while i < self.samples.len() && self.samples[i].0 <= start {
            i += 1;
        }
        i
    }

    /// Index one past the last sample at or before `now`.
    fn end_index(&self, now: Timestamp) -> usize {
        match self.samples.back() {
            // The usual query, about now: no search (every field of every
            // container is asked each sampling pass).
            Some(&(t, _)) if t <= now => self.samples.len(),
            _ => self.samples.partition_point(|&(t, _)| t <= now),
        }
    }

    /// Counter growth over `(now - over, now]`, resets counted as growth from
    /// zero. `None` with fewer than two samples: one value says nothing about
    /// growth.
    pub fn increase(&self, now: Timestamp, over: Duration) -> Option<f64> {
        self.increase_span(now, over).map(|(inc, _)| inc)
    }

    /// Growth and the time between the base and the last sample used.
    fn increase_span(&self, now: Timestamp, over: Duration) -> Option<(f64, f64)> {
        if self.samples.len() < 2 {
            return None;
        }
        let base = self.base_index(now, over)?;
        let end = self.end_index(now);
        if end == 0 {
            return None;
        }
        let mut inc = 0.0;
        let mut prev = self.samples[base].1;
        for i in base + 1..end {
            let v = self.samples[i].1;
            inc += if v >= prev { v - prev } else { v };
            prev = v;
        }
        let span = self.samples[end - 1].0.secs_since(self.samples[base].0);
        Some((inc, span))
    }

    /// Counter growth per second over the whole window: `increase / over`.
    /// History the window has not seen counts as no growth, so a series
    /// younger than `over` is never inflated by a short denominator. Right
    /// for event counts (forks, EMFILE) that may be pushed irregularly.
    pub fn rate(&self, now: Timestamp, over: Duration) -> Option<f64> {
        let secs = over.as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        self.increase(now, over).map(|inc| inc / secs)
    }

    /// Counter growth per second between the base sample and the last sample
    /// in the window: exact for regularly sampled counters (CPU usec, PSI
    /// stall totals) whatever the sampling jitter. `None` if the samples
    /// span no time.
    pub fn slope(&self, now: Timestamp, over: Duration) -> Option<f64> {
        let (inc, span) = self.increase_span(now, over)?;
        (span > 0.0).then(|| inc / span)
    }

    /// Gauge samples in `(now - over, now]`, or if there are none the newest
    /// sample at or before `now` (a gauge holds its value until resampled).
    fn gauge_values(&self, now: Timestamp, over: Duration) -> impl Iterator<Item = f64> + '_ {
        let end = self.end_index(now);
        let first = self.count_until(window_start(now, over)).min(end);
        let first = if first == end {
            end.saturating_sub(1)
        } else {
            first
        };
        self.samples.range(first..end).map(|&(_, v)| v)
    }

    /// Mean of the gauge over the window.
    pub fn avg(&self, now: Timestamp, over: Duration) -> Option<f64> {
        let (mut n, mut sum) = (0usize, 0.0);
        for v in self.gauge_values(now, over) {
            n += 1;
            sum += v;
        }
        (n > 0).then(|| sum / n as f64)
    }

    pub fn max(&self, now: Timestamp, over: Duration) -> Option<f64> {
        self.gauge_values(now, over).reduce(f64::max)
    }

    pub fn min(&self, now: Timestamp, over: Duration) -> Option<f64> {
        self.gauge_values(now, over).reduce(f64::min)
    }
}

/// The exclusive start of `(now - over, now]`, `None` if before time zero.
fn window_start(now: Timestamp, over: Duration) -> Option<Timestamp> {
    now.0.checked_sub(over.as_nanos() as u64).map(Timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: f64) -> Timestamp {
        Timestamp::from_secs_f64(x)
    }
    const SEC: Duration = Duration::from_secs(1);

    fn counter(points: &[(f64, f64)]) -> Window {
        let mut w = Window::new(16, SEC);
        for &(t, v) in points {
            w.push(s(t), v);
        }
        w
    }

    #[test]
    fn rate_over_full_window() {
        // 10 forks a second for 20 s.
        let pts: Vec<_> = (0..=20).map(|i| (i as f64, i as f64 * 10.0)).collect();
        let w = counter(&pts);
        assert_eq!(w.increase(s(20.0), 10 * SEC), Some(100.0));
        assert_eq!(w.rate(s(20.0), 10 * SEC), Some(10.0));
        assert_eq!(w.slope(s(20.0), 10 * SEC), Some(10.0));
    }

    #[test]
    fn young_series_is_not_inflated() {
        // 5 forks within the first half second: rate over 10 s is 0.5/s.
        let w = counter(&[(0.0, 100.0), (0.5, 105.0)]);
        assert_eq!(w.rate(s(0.5), 10 * SEC), Some(0.5));
        // The slope uses the real span.
        assert_eq!(w.slope(s(0.5), 10 * SEC), Some(10.0));
    }

    #[test]
    fn one_sample_says_nothing() {
        let w = counter(&[(1.0, 42.0)]);
        assert_eq!(w.increase(s(5.0), 10 * SEC), None);
        assert_eq!(w.last(), Some(42.0));
    }

    #[test]
    fn quiet_counter_rate_drops_to_zero() {
        // A burst long ago, then nothing pushed: the window has moved on.
        let w = counter(&[(0.0, 0.0), (1.0, 500.0)]);
        assert_eq!(w.rate(s(2.0), 10 * SEC), Some(50.0));
        assert_eq!(w.rate(s(30.0), 10 * SEC), Some(0.0));
    }

    #[test]
    fn reset_counts_as_growth_from_zero() {
        let w = counter(&[(0.0, 90.0), (1.0, 100.0), (2.0, 5.0), (3.0, 8.0)]);
        // 10 + 5 (reset) + 3
        assert_eq!(w.increase(s(3.0), 10 * SEC), Some(18.0));
    }

    #[test]
    fn same_slot_replaces_newest_but_keeps_base() {
        let mut w = Window::new(4, SEC);
        w.push(s(0.1), 1.0);
        w.push(s(0.2), 2.0); // same slot as base: still kept (base is sacred)
        w.push(s(0.3), 3.0); // replaces 0.2
        w.push(s(0.9), 4.0); // replaces 0.3
        assert_eq!(w.len(), 2);
        assert_eq!(w.latest(), Some((s(0.9), 4.0)));
        assert_eq!(w.increase(s(1.0), 10 * SEC), Some(3.0));
    }

    #[test]
    fn memory_is_bounded_under_a_storm() {
        let mut w = Window::new(8, SEC);
        for i in 0..100_000u64 {
            w.push(Timestamp(i * 1_000_000), i as f64); // 1000 pushes a second
        }
        assert_eq!(w.len(), 8);
        assert_eq!(w.horizon(), 8 * SEC);
        // Last 5 s of a 1000/s counter.
        let now = Timestamp(99_999 * 1_000_000);
        let r = w.rate(now, 5 * SEC).unwrap();
        assert!((r - 1000.0).abs() < 1.0, "{r}");
    }

    #[test]
    fn late_samples_count_as_arriving_now() {
        let w = counter(&[(5.0, 10.0), (3.0, 11.0), (4.0, 12.0), (6.0, 13.0)]);
        assert_eq!(w.increase(s(6.0), 10 * SEC), Some(3.0));
        assert_eq!(w.latest(), Some((s(6.0), 13.0)));
    }

    #[test]
    fn gauge_avg_max_min() {
        let w = counter(&[(0.0, 1.0), (1.0, 5.0), (2.0, 3.0), (3.0, 7.0)]);
        assert_eq!(w.max(s(3.0), 10 * SEC), Some(7.0));
        assert_eq!(w.min(s(3.0), 10 * SEC), Some(1.0));
        assert_eq!(w.avg(s(3.0), 10 * SEC), Some(4.0));
        // (1, 3]: 3 and 7
        assert_eq!(w.avg(s(3.0), 2 * SEC), Some(5.0));
        // Nothing in the last second at t=60: the stale gauge still holds.
        assert_eq!(w.max(s(60.0), SEC), Some(7.0));
        // A query in the past ignores later samples.
        assert_eq!(w.max(s(1.5), 10 * SEC), Some(5.0));
        assert_eq!(Window::new(4, SEC).avg(s(1.0), SEC), None);
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let w = counter(&[(0.0, 1.0), (1.0, f64::NAN), (2.0, f64::INFINITY)]);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn window_starts_are_found_in_irregular_series() {
        // Gaps, dense stretches and slots skipped: the guess from the
        // resolution is off in both directions, the count must not be.
        let mut w = Window::new(50, SEC);
        let mut t = 0.0;
        for k in 0..120u32 {
            t += [0.3, 1.0, 1.7, 4.0, 0.9][k as usize % 5];
            w.push(s(t), f64::from(k));
        }
        let times: Vec<_> = w.samples.iter().map(|&(t, _)| t).collect();
        let mut start = 0u64;
        while start < s(t + 3.0).0 {
            let expect = times.iter().filter(|&&x| x.0 <= start).count();
            assert_eq!(
                w.count_until(Some(Timestamp(start))),
                expect,
                "start {start}"
            );
            start += SEC.as_nanos() as u64 / 7;
        }
        assert_eq!(w.count_until(None), 0);
    }
}
