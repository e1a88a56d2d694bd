//! The wire contract between the eBPF programs and the agent.
//!
//! Everything the kernel side writes into the ring buffer, every map the two
//! sides share, and every number both must agree on lives here and nowhere
//! else. The crate is `#![no_std]` so the eBPF crate can use it; the `user`
//! feature adds `aya::Pod` impls and bounds-checked decoding for the agent.
//!
//! Ids are stable: a retired id stays a hole so recorded logs keep their
//! meaning (see [`kinds`]).
#![no_std]

/// A `#[repr(C)]` struct both sides share, checked at compile time to have
/// no implicit padding: every byte is a named field, so the kernel and the
/// agent agree on the layout and `aya::Pod` is sound.
macro_rules! shared_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }

        const _: () = assert!(
            core::mem::size_of::<$name>() == 0 $(+ core::mem::size_of::<$t>())*,
            concat!(stringify!($name), " has implicit padding")
        );
    };
}

pub mod attempts;
pub mod enforce;
pub mod filter;
pub mod flood;
pub mod io_uring;
pub mod kinds;
pub mod lsm;
pub mod offsets;
pub mod records;
pub mod roundabout;
pub mod syscalls;
pub mod wake;

#[cfg(feature = "user")]
pub mod decode;
#[cfg(feature = "user")]
mod pod;

pub use kinds::EventKind;
pub use offsets::KernelOffsets;
pub use records::*;
pub use syscalls::SyscallId;

/// Names of maps and globals in the eBPF object, shared so a rename is a
/// compile error on one side rather than a runtime "map not found".
pub mod names {
    /// Ring buffer carrying every record to the agent.
    pub const EVENTS: &str = "EVENTS";
    /// Per-CPU array of u64: ring-buffer reservation failures per [`crate::EventKind::slot`].
    pub const DROPS: &str = "DROPS";
    /// LRU hash: syscall records waiting for their sys_exit, keyed by pid_tgid.
    pub const PENDING: &str = "PENDING";
    /// LPM trie of path prefixes that make an open interesting ([`crate::filter`]).
    pub const OPEN_PREFIXES: &str = "OPEN_PREFIXES";
    /// Hash of final path components that make an open interesting.
    pub const OPEN_NAMES: &str = "OPEN_NAMES";
    /// Global: [`crate::KernelOffsets`] resolved from the running kernel's BTF.
    pub const OFFSETS: &str = "OFFSETS";
    /// Global: the agent's own tgid, whose activity is not reported.
    pub const AGENT_TGID: &str = "AGENT_TGID";
    /// Global u32: non-zero to report loopback network peers too.
    pub const NET_LOOPBACK: &str = "NET_LOOPBACK";
    /// LRU hash: UDP flows (socket, destination) whose first datagram was reported.
    pub const NET_FLOWS: &str = "NET_FLOWS";
    /// LRU per-CPU hash: cgroup v2 id → [`crate::CgroupCounters`].
    pub const CGROUP_COUNTERS: &str = "CGROUP_COUNTERS";
    /// Array of u32 indexed by syscall number, read by the probe-only
    /// `bench_raw_sys_enter` program (hook-design benchmark).
    pub const BENCH_SYSCALLS: &str = "BENCH_SYSCALLS";
    /// Array of u16 indexed by syscall number: [`crate::SyscallId`] + 1 of
    /// the syscalls whose refused attempts are reported
    /// ([`crate::attempts`]), 0 for the rest.
    pub const ATTEMPT_IDS: &str = "ATTEMPT_IDS";
    /// Array of u16 indexed by syscall number: [`crate::SyscallId`] + 1 of
    /// the attempts with no per-syscall tracepoint on the running kernel,
    /// read by `raw_sys_exit_untraceable` (`--watch-untraceable`).
    pub const UNTRACEABLE_IDS: &str = "UNTRACEABLE_IDS";
    /// Global u32: [`crate::enforce::mode`].
    pub const ENFORCE_MODE: &str = "ENFORCE_MODE";
    /// Global u32: non-zero when module loads from containers are refused.
    pub const ENFORCE_MODULES: &str = "ENFORCE_MODULES";
    /// Global u32: non-zero when signals from containers to the agent are
    /// refused (self-protection).
    pub const ENFORCE_SIGNALS: &str = "ENFORCE_SIGNALS";
    /// Global u32: non-zero when exec of a memfd from a container is
    /// refused (or flagged, in dry run).
    pub const ENFORCE_MEMFD_EXEC: &str = "ENFORCE_MEMFD_EXEC";
    /// Global u32: non-zero when ptrace of the agent from a container is
    /// refused (self-protection).
    pub const ENFORCE_PTRACE: &str = "ENFORCE_PTRACE";
    /// Global u32: non-zero when `bpf(BPF_PROG_LOAD)` from a container is
    /// refused (or flagged, in dry run).
    pub const ENFORCE_BPF_PROG_LOAD: &str = "ENFORCE_BPF_PROG_LOAD";
    /// Hash: cgroup v2 id → 1 for every container cgroup the agent knows
    /// (where enforcement applies).
    pub const CONTAINER_CGROUPS: &str = "CONTAINER_CGROUPS";
    /// LRU hash: io_uring requests (by `io_kiocb` address) waiting for
    /// their completion ([`crate::io_uring`]).
    pub const IO_URING_PENDING: &str = "IO_URING_PENDING";
    /// LRU hash: socket cookie → the task that owns a socket which sent
    /// to port 53, whose DNS messages are reported as that task's.
    pub const DNS_OWNERS: &str = "DNS_OWNERS";
    /// Global u32: syscall records per cgroup, syscall, CPU and window
    /// ([`crate::flood`]); 0 turns throttling off.
    pub const THROTTLE_RATE: &str = "THROTTLE_RATE";
    /// LRU per-CPU hash: [`crate::flood::ThrottleKey`] → [`crate::flood::ThrottleWindow`].
    pub const THROTTLE: &str = "THROTTLE";

    /// Programs in the eBPF object besides the syscall enter programs
    /// (those are named by [`crate::SyscallId::program`]). The eBPF side
    /// defines functions of these names; a test in the agent checks the
    /// built object has each one.
    pub mod programs {
        pub const EXEC_BTF: &str = "exec_btf";
        pub const EXEC_RAW: &str = "exec_raw";
        pub const FORK_BTF: &str = "fork_btf";
        pub const FORK_RAW: &str = "fork_raw";
        pub const EXIT_BTF: &str = "exit_btf";
        pub const EXIT_RAW: &str = "exit_raw";
        pub const MODULE_LOAD: &str = "module_load";
        pub const CGROUP_MKDIR: &str = "cgroup_mkdir";
        pub const CGROUP_RMDIR: &str = "cgroup_rmdir";
        pub const OOM_MARK_VICTIM: &str = "oom_mark_victim";
        /// The exit program of hooked syscalls.
        pub const SYS_EXIT: &str = "sys_exit";
        /// [`SYS_EXIT`] plus fd-exhaustion counting.
        pub const SYS_EXIT_FD: &str = "sys_exit_fd";
        /// [`SYS_EXIT`] plus failed-fork counting.
        pub const SYS_EXIT_FORK: &str = "sys_exit_fork";
        pub const COUNT_FORK_FAILURE: &str = "count_fork_failure";
        pub const COUNT_FD_FAILURE: &str = "count_fd_failure";
        /// Probe-only programs of `vigil probe` and the benchmark.
        pub const PROBE_LSM: &str = "probe_lsm";
        pub const PROBE_FENTRY: &str = "probe_fentry";
        pub const BENCH_RAW_SYS_ENTER: &str = "bench_raw_sys_enter";
        /// Empty programs on `openat`'s tracepoints (the benchmark's floor
        /// for opens).
        pub const BENCH_OPEN_ENTER: &str = "bench_open_enter";
        pub const BENCH_OPEN_EXIT: &str = "bench_open_exit";
        /// [`SYS_EXIT`] plus refused attempts and fd-exhaustion counting,
        /// for the syscalls of [`crate::attempts::ATTEMPTS`].
        pub const SYS_EXIT_ATTEMPT: &str = "sys_exit_attempt";
        /// `io_uring/io_uring_submit_req` and `io_uring/io_uring_complete`.
        /// `raw_syscalls/sys_exit`, opt-in: failed exits of the attempts
        /// with no per-syscall tracepoint (`names::UNTRACEABLE_IDS`).
        pub const RAW_SYS_EXIT_UNTRACEABLE: &str = "raw_sys_exit_untraceable";
        pub const IO_URING_SUBMIT: &str = "io_uring_submit";
        pub const IO_URING_COMPLETE: &str = "io_uring_complete";
        /// Per-cgroup traffic counting and DNS capture (`cgroup_skb`,
        /// attached to the v2 root).
        pub const TRAFFIC_INGRESS: &str = "traffic_ingress";
        pub const TRAFFIC_EGRESS: &str = "traffic_egress";
        /// [`TRAFFIC_EGRESS`] without naming DNS sockets' owners, for
        /// kernels that refuse current-task helpers in `cgroup_skb` (6.1).
        pub const TRAFFIC_EGRESS_ANON: &str = "traffic_egress_anon";

        pub const ALL: &[&str] = &[
            EXEC_BTF,
            EXEC_RAW,
            FORK_BTF,
            FORK_RAW,
            EXIT_BTF,
            EXIT_RAW,
            MODULE_LOAD,
            CGROUP_MKDIR,
            CGROUP_RMDIR,
            OOM_MARK_VICTIM,
            SYS_EXIT,
            SYS_EXIT_FD,
            SYS_EXIT_FORK,
            COUNT_FORK_FAILURE,
            COUNT_FD_FAILURE,
            PROBE_LSM,
            PROBE_FENTRY,
            BENCH_RAW_SYS_ENTER,
            BENCH_OPEN_ENTER,
            BENCH_OPEN_EXIT,
            SYS_EXIT_ATTEMPT,
            IO_URING_SUBMIT,
            IO_URING_COMPLETE,
            TRAFFIC_INGRESS,
            TRAFFIC_EGRESS,
            TRAFFIC_EGRESS_ANON,
            RAW_SYS_EXIT_UNTRACEABLE,
        ];
    }
}
