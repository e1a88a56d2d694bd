//! Operations submitted through io_uring, described once for both sides.
//!
//! io_uring opens files and connects sockets with no syscall per operation,
//! so the syscall tracepoints never see them. io_uring's own tracepoints
//! do: `io_uring_submit_req` fires once the request is prepared (its path
//! copied in, its sockaddr pointer known) and `io_uring_complete` when its
//! result is posted. The eBPF side turns each security-relevant request
//! into the [`crate::SyscallRecord`] of the syscall it stands for (so the
//! same rules and the same open filter apply), flagged
//! [`crate::syscall_flags::IO_URING`], and sends it at completion with the
//! result as its return value.

/// `IORING_OP_*` opcodes reported (UAPI `linux/io_uring.h`, stable).
pub mod op {
    pub const CONNECT: u8 = 16;
    pub const OPENAT: u8 = 18;
    pub const OPENAT2: u8 = 28;
}

/// `IOSQE_FIXED_FILE`, which the kernel also uses as the request's
/// `REQ_F_FIXED_FILE` bit: the fd is an index into the ring's own file
/// table, not the process's.
pub const FIXED_FILE: u64 = 1;

/// The tracepoints' category in tracefs.
pub const CATEGORY: &str = "io_uring";
/// The submit tracepoint: its name since Linux 6.3, then its older name.
pub const SUBMIT_TRACEPOINTS: &[&str] = &["io_uring_submit_req", "io_uring_submit_sqe"];
/// The completion tracepoint.
pub const COMPLETE_TRACEPOINT: &str = "io_uring_complete";

/// Byte offsets of the fields the programs read in the tracepoints'
/// records (the same from 5.x to 6.18). The agent checks them against the
/// tracepoints' `format` files before attaching and refuses the hook, with
/// the reason, where they differ.
pub const REQ_OFFSET: usize = 16;
pub const USER_DATA_OFFSET: usize = 24;
/// `opcode` (u8) in the submit record.
pub const OPCODE_OFFSET: usize = 32;
/// `res` (int) in the completion record.
pub const RES_OFFSET: usize = 32;

/// `(field, offset)` the submit program reads.
pub const SUBMIT_FIELDS: &[(&str, usize)] = &[
    ("req", REQ_OFFSET),
    ("user_data", USER_DATA_OFFSET),
    ("opcode", OPCODE_OFFSET),
];
/// `(field, offset)` the completion program reads.
pub const COMPLETE_FIELDS: &[(&str, usize)] = &[
    ("req", REQ_OFFSET),
    ("user_data", USER_DATA_OFFSET),
    ("res", RES_OFFSET),
];

/// Kernel struct members the programs read (resolved from BTF into
/// [`crate::KernelOffsets`]); without any of them the hooks stay detached
/// and io_uring is a named gap.
pub const MEMBERS: &[&str] = &[
    "io_kiocb.cmd",
    "io_kiocb.flags",
    "io_kiocb.cqe.fd",
    "io_open.dfd",
    "io_open.filename",
    "io_open.how",
    "filename.name",
    "io_connect.addr",
    "io_connect.addr_len",
];

/// What tracepoint mode misses when these hooks cannot attach.
pub const GAP: &str =
    "io_uring file opens and connects (IORING_OP_OPENAT/OPENAT2/CONNECT bypass the syscalls)";
