//! Reading kernel structs through offsets resolved at load time.
//!
//! Every read is a `bpf_probe_read_kernel` that tolerates a NULL base and a
//! `MISSING` offset by returning `None`, so a kernel that lacks a member
//! yields "unknown", never a bad read.

use aya_ebpf::helpers::{
    bpf_probe_read_kernel, bpf_probe_read_user,
    generated::{bpf_probe_read_kernel_str, bpf_probe_read_user_str},
};
use core::ffi::c_void;
use monitor_common::KernelOffsets;

/// Read a `T` at `base + off`.
#[inline(always)]
pub fn read<T>(base: u64, off: u32) -> Option<T> {
    if base == 0 || off == KernelOffsets::MISSING {
        return None;
    }
    // SAFETY: probe_read validates the address; failure is an Err.
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T).ok() }
}

/// Read a pointer at `base + off`; NULL counts as absent.
#[inline(always)]
pub fn ptr(base: u64, off: u32) -> Option<u64> {
    match read::<u64>(base, off) {
        Some(0) | None => None,
        p => p,
    }
}

/// Read a `T` from user memory.
#[inline(always)]
pub fn user<T>(addr: u64) -> Option<T> {
    if addr == 0 {
        return None;
    }
    // SAFETY: probe_read validates the address.
    unsafe { bpf_probe_read_user(addr as *const T).ok() }
}

/// A string read into a fixed buffer: bytes kept (without NUL) and whether
/// the buffer filled up (the string may have been cut).
#[derive(Clone, Copy)]
pub struct Str {
    pub len: u16,
    pub truncated: bool,
}

const EMPTY: Str = Str {
    len: 0,
    truncated: false,
};

#[inline(always)]
fn str_result(n: i64, cap: u32) -> Str {
    if n <= 0 {
        return EMPTY;
    }
    let n = n as u32;
    Str {
        len: (n - 1) as u16,
        truncated: n >= cap,
    }
}

/// Read a NUL-terminated user string into `dst[..cap]`.
#[inline(always)]
pub fn user_str(dst: *mut u8, cap: u32, src: u64) -> Str {
    if src == 0 {
        return EMPTY;
    }
    // SAFETY: dst points at `cap` writable bytes (callers pass field buffers).
    let n = unsafe { bpf_probe_read_user_str(dst as *mut c_void, cap, src as *const c_void) };
    str_result(n, cap)
}

/// Read a NUL-terminated kernel string into `dst[..cap]`.
#[inline(always)]
pub fn kernel_str(dst: *mut u8, cap: u32, src: u64) -> Str {
    if src == 0 {
        return EMPTY;
    }
    // SAFETY: as for user_str.
    let n = unsafe { bpf_probe_read_kernel_str(dst as *mut c_void, cap, src as *const c_void) };
    str_result(n, cap)
}

/// Copy the user memory `start..end` into `dst`, its first `N` bytes at
/// most: the bytes copied and whether the range was longer; `None` when
/// the range is empty or unreadable.
#[inline(always)]
pub fn user_range<const N: usize>(dst: &mut [u8; N], start: u64, end: u64) -> Option<(u32, bool)> {
    const { assert!(N.is_power_of_two()) };
    if end <= start {
        return None;
    }
    let cut = end - start > N as u64;
    let len = if cut { N as u64 } else { end - start };
    // 1..=N in a form the verifier can bound.
    let len = ((len as u32 - 1) & (N as u32 - 1)) + 1;
    // SAFETY: `len` <= N, the size of the destination.
    let rc = unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_user(
            dst.as_mut_ptr() as *mut c_void,
            len,
            start as *const c_void,
        )
    };
    (rc == 0).then_some((len, cut))
}

/// Branch-free read of a `T` at `addr`: zero if the read fails (the helper
/// zeroes its destination on error). For hot loops, where every branch
/// multiplies the verifier's work. `T` must be valid when all-zero.
#[inline(always)]
pub fn rd<T: Copy>(addr: u64) -> T {
    let mut v = core::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: probe_read validates the address and zero-fills on failure, so
    // `v` is initialised either way.
    unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel(
            v.as_mut_ptr() as *mut c_void,
            core::mem::size_of::<T>() as u32,
            addr as *const c_void,
        );
        v.assume_init()
    }
}
