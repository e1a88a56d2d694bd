//! The pipeline's input interface: anything that yields batches of kernel
//! records. The eBPF [`super::Sensor`] is the production source; tests and
//! benchmarks feed synthetic records through the same trait.

use std::io;

use monitor_common::decode::Record;

use super::SensorStats;

/// Where records come from.
///
/// `read_batch` waits until records are available and appends them to
/// `out`; it may return with nothing appended (a spurious wakeup). It must
/// be cancel-safe: the pipeline drops a pending call on shutdown. A finite
/// source (a replay, a test) ends the run by returning an error of kind
/// [`io::ErrorKind::UnexpectedEof`] once it is exhausted.
#[allow(async_fn_in_trait)] // used with concrete types only, never `dyn`
pub trait RecordSource {
    async fn read_batch(&mut self, out: &mut Vec<Record>) -> io::Result<()>;
    fn stats(&self) -> SensorStats;
    /// Stop producing and append, without waiting, what was produced and
    /// not yet read, so a shutdown loses no record the kernel already
    /// wrote (a sensor detaches its hooks, then drains its ring). A source
    /// with nothing in flight appends nothing.
    fn finish(&mut self, _out: &mut Vec<Record>) {}
    /// Bytes waiting in the kernel's buffer and its size, for a source
    /// that can tell; `None` otherwise.
    fn ring_fill(&self) -> Option<(u64, u64)> {
        None
    }
    /// The kernel's per-cgroup totals (cgroup v2 id → counters), for a
    /// source that counts them; `None` otherwise.
    fn cgroup_counters(&self) -> Option<Vec<(u64, monitor_common::CgroupCounters)>> {
        None
    }
}
