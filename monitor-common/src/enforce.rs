//! In-kernel enforcement, described once for both sides.
//!
//! The kernel cannot evaluate Falco conditions, so enforcement is a narrow,
//! explicit policy the agent derives from the rules that ask for an action
//! (docs/enforcement.md): in LSM mode, an LSM hook refuses with `-EPERM`
//!
//! - an open for writing of a file whose final path component is an open
//!   filter name tagged [`crate::filter::when::DENY_WRITE`], and
//! - a kernel module load (`kernel_read_file`/`kernel_load_data`) when the
//!   global [`ENFORCE_MODULES`](crate::names::ENFORCE_MODULES) is set, and
//! - a signal to the agent (`task_kill`, self-protection) when the global
//!   [`ENFORCE_SIGNALS`](crate::names::ENFORCE_SIGNALS) is set, and
//! - a `bpf(BPF_PROG_LOAD)` (`bpf`) when the global
//!   [`ENFORCE_BPF_PROG_LOAD`](crate::names::ENFORCE_BPF_PROG_LOAD) is set.
//!
//! In either mode, the open syscalls' tracepoints and `file_open` kill
//! (`bpf_send_signal(SIGKILL)`) the process that opens for writing a name
//! tagged [`crate::filter::when::KILL_WRITE`]: the open runs, the process
//! dies before it returns to user space ([`crate::syscall_flags::KILLED`]).
//! Both apply only to tasks in a container's cgroup: the agent keeps the cgroup
//! v2 ids of the containers it knows in
//! [`CONTAINER_CGROUPS`](crate::names::CONTAINER_CGROUPS). The record of
//! a refused operation is flagged [`crate::syscall_flags::DENIED`]
//! (or [`crate::syscall_flags::WOULD_DENY`] in dry-run mode; a refused
//! signal is reported by the kill tracepoints with its EPERM).

/// Values of the global [`ENFORCE_MODE`](crate::names::ENFORCE_MODE).
pub mod mode {
    /// Nothing is refused or flagged (the default).
    pub const OFF: u32 = 0;
    /// Nothing is refused; what would have been is flagged `WOULD_DENY`.
    pub const DRY_RUN: u32 = 1;
    /// Armed checks refuse with `-EPERM`, flagged `DENIED`.
    pub const DENY: u32 = 2;
}

/// Containers whose cgroups the kernel enforces on, at most.
pub const CONTAINER_CGROUPS_MAX: u32 = 16384;

/// `EPERM`: a refusal's verdict is its negation.
pub const EPERM: i32 = 1;
/// The signal of the kill action.
pub const SIGKILL: u32 = 9;
/// bpf(2)'s `BPF_PROG_LOAD` command.
pub const BPF_PROG_LOAD: u32 = 5;
