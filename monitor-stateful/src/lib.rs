//! Stateful detection inputs for vigil: the numbers behind resource
//! monopolisation rules and the learned per-image process baselines.
//!
//! - [`layout`] finds the cgroup hierarchies (v1, v2, hybrid) and a cgroup's
//!   directory in each; [`cgroupfs`] reads one cgroup's controller files;
//!   [`psi`] parses pressure stall information.
//! - [`sampler`] samples many containers once per interval into fixed-memory
//!   [`windows`] and answers rule fields ([`metrics::FieldRef`]) such as
//!   `container.fork_rate[10s]` or `container.memory.usage_pct`.
//! - [`uid_nproc`] counts processes per UID across containers against
//!   RLIMIT_NPROC (`user.nproc`, `user.nproc_limit`); [`inotify`] counts
//!   inotify instances and watches per UID against the kernel's per-user
//!   limits (`user.inotify_instances_pct`, ...); [`storage`] watches the
//!   host filesystems of container layers and volumes and names the
//!   containers filling them (`fs.usage_pct`, `fs.top_writer`).
//! - [`baseline`] learns what each image runs and checks execs against it
//!   (`proc.in_baseline`), with reviewable files on disk.
//!
//! Nothing here talks to the kernel's BPF side or raises alerts: the agent
//! feeds events in and the rules engine reads numbers out.

pub mod baseline;
pub mod cgroupfs;
pub mod inotify;
pub mod layout;
pub mod metrics;
pub mod mountinfo;
pub mod psi;
pub mod sampler;
pub mod storage;
pub mod time;
pub mod uid_nproc;
pub mod units;
pub mod windows;

pub use baseline::{BaselineStore, Difference, Verdict};
pub use cgroupfs::{CgroupReader, CgroupSample, CpuQuota, FdBudget, IoStat, Limit, Needs};
pub use layout::{CgroupDirs, CgroupLayout, LayoutError, LayoutKind};
pub use metrics::{FieldError, FieldRef, Metric};
pub use psi::{HostPsi, Psi, PsiLine, PsiResource};
pub use sampler::{needs_of, CgroupId, Counter, Sampler, SamplerConfig};
pub use time::Timestamp;
pub use uid_nproc::UidTable;
pub use windows::Window;
