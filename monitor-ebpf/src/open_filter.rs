//! The in-kernel open filter: only opens whose path matches a configured
//! prefix (LPM trie) or whose final component matches a configured name
//! (hash) go on to userspace; `when::WRITE` entries only count for opens
//! that can modify the file. A path with a `.`, `..` or empty component
//! (`/tmp/../etc/shadow`) names another path than its letters, so no
//! prefix can be read off it: it goes on too, and the agent normalises it.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel;
use core::ffi::c_void;
use monitor_common::{
    filter::{when, NAME_LEN, PREFIX_LEN},
    roundabout::{keep, Scan},
    syscall_flags, SyscallRecord, PATH_LEN,
};

use crate::maps::{FILTER_SCRATCH, OPEN_NAMES, OPEN_PREFIXES};
use crate::store;

const O_WRONLY: u64 = 0o1;
const O_RDWR: u64 = 0o2;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;

/// Does an open with these flags modify (or create) the file?
#[inline(always)]
pub fn is_write(flags: u64) -> bool {
    flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC) != 0
}

const _: () = assert!(PREFIX_LEN.is_power_of_two() && NAME_LEN.is_power_of_two());
const _: () = assert!(PATH_LEN.is_power_of_two());
const _: () = assert!(
    core::mem::offset_of!(SyscallRecord, str0) % 8 == 0
        && core::mem::offset_of!(SyscallRecord, str1) % 8 == 0
        && PATH_LEN % 8 == 0
);

/// Whether an open whose path matched `verdict` (the `when` bits of its
/// entries) should be reported.
#[inline(always)]
pub fn reported(verdict: u32, write: bool) -> bool {
    verdict & when::ANY != 0
        || (write && verdict & (when::WRITE | when::DENY_WRITE | when::KILL_WRITE) != 0)
}

/// The path the filter compares: the kernel's resolution of a relative
/// path (`str1`, see `open_path`), else the path as passed (`str0`).
#[inline(always)]
fn path_of(rec: &SyscallRecord) -> (*const u8, u32) {
    if rec.flags & syscall_flags::PATH_AT != 0 && rec.str1_len != 0 {
        (rec.str1.as_ptr(), rec.str1_len as u32)
    } else {
        (rec.str0.as_ptr(), rec.str0_len as u32)
    }
}

/// The `when` bits of every filter entry the open's path ([`path_of`])
/// matches.
#[inline(always)]
pub fn matches(rec: &SyscallRecord) -> u32 {
    let (src, len) = path_of(rec);
    if len == 0 {
        return 0;
    }
    let Some(s) = FILTER_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    let base = s as *mut u8;

    // Prefix: the first PREFIX_LEN bytes of the path, its length in bits
    // the key's prefix length, so that the bytes past it (left from an
    // earlier path) take no part in the match.
    // SAFETY: offsets are inside FilterScratch (4 + 4 + PREFIX_LEN + NAME_LEN bytes).
    unsafe {
        let n = if len > PREFIX_LEN as u32 {
            PREFIX_LEN as u32
        } else {
            len
        };
        let n = ((n - 1) & (PREFIX_LEN as u32 - 1)) + 1;
        *(base.add(4) as *mut u32) = n * 8;
        // A helper call, not a copy loop: docs/performance.md ("Where
        // open+close's cost goes") says why the loop was left out.
        bpf_probe_read_kernel(base.add(8) as *mut c_void, n, src as *const c_void);
    }
    let mut verdict = 0u32;
    // SAFETY: the key lives in the scratch map value.
    if let Some(v) = OPEN_PREFIXES.get(unsafe { &(*s).prefix }) {
        verdict |= *v;
    }

    // Final component: scan back from the end for the last '/'.
    let mut k: u32 = 0;
    while k < NAME_LEN as u32 {
        if k >= len {
            break;
        }
        let idx = len - 1 - k;
        // SAFETY: masked index inside str0 or str1.
        if unsafe { *src.add((idx & (PATH_LEN as u32 - 1)) as usize) } == b'/' {
            break;
        }
        k += 1;
    }
    // k is the component's length; NAME_LEN or more cannot match a key.
    if k > 0 && k < NAME_LEN as u32 {
        let start = len - k;
        // SAFETY: offsets inside FilterScratch; source inside the record.
        unsafe {
            let name = base.add(8 + PREFIX_LEN) as *mut [u64; NAME_LEN / 8];
            // The hash compares the whole key: its padding must be zero.
            store::zero_words(&mut *name);
            bpf_probe_read_kernel(
                name as *mut c_void,
                k & (NAME_LEN as u32 - 1),
                src.add((start & (PATH_LEN as u32 - 1)) as usize) as *const c_void,
            );
        }
        // SAFETY: the key lives in the scratch map value. Passed by
        // reference on purpose: by value would copy it onto the stack.
        #[allow(clippy::needless_borrows_for_generic_args)]
        if let Some(v) = unsafe { OPEN_NAMES.get(&(*s).name) } {
            verdict |= *v;
        }
    }
    verdict
}

/// [`matches`] for a path as a process spelled it (the open syscalls'
/// enter tracepoints): one with a `.`, `..` or empty component that
/// matched nothing goes on anyway (`ANY`). Not for the LSM hook, whose
/// paths are the kernel's (`bpf_d_path`), nor io_uring's submissions
/// ([`goes_on_as_given`]: this early-exit check made Debian 6.1's
/// verifier give up on that program).
#[inline(always)]
pub fn matches_spelled(rec: &SyscallRecord) -> u32 {
    let verdict = matches(rec);
    let (src, len) = path_of(rec);
    if verdict == 0 && roundabout(src, len) {
        return when::ANY;
    }
    verdict
}

/// For io_uring's opens, filtered as given (their program has no room
/// for the kernel's resolution, `open_path`): does a path that matched
/// nothing still go on, for the agent to resolve (a relative path) or
/// normalise (a `.`, `..` or empty component)? Every word of `str0` is
/// read, with no exit that depends on the path's length: the verifier
/// walks the loop once, where [`roundabout`]'s early exits made Debian
/// 6.1's verifier give up on that program. Only io_uring opens that
/// matched nothing pay it (about 170 ns).
#[inline(always)]
pub fn goes_on_as_given(rec: &SyscallRecord) -> bool {
    const WORDS: u32 = (PATH_LEN / 8) as u32;
    let len = rec.str0_len as u32;
    if len == 0 {
        return false;
    }
    if rec.str0[0] != b'/' {
        return true;
    }
    let src = rec.str0.as_ptr();
    let mut scan = Scan::new();
    let mut w = 0u32;
    while w < WORDS {
        let o = w * 8;
        // SAFETY: o + 8 <= PATH_LEN: inside str0, 8-aligned.
        scan.word(
            unsafe { *(src.add(o as usize) as *const u64) },
            keep(len, o),
        );
        w += 1;
    }
    scan.word(0, 0);
    scan.found()
}

/// Does the path (its first `len` bytes at `src`, 8-aligned) have a `.`,
/// `..` or empty component (`monitor_common::roundabout`)? The words of
/// the path are read, then one past it that closes its last patterns.
/// Not inlined: one copy for the open programs' call sites, whose loop
/// exits meet at its return.
#[inline(never)]
fn roundabout(src: *const u8, len: u32) -> bool {
    const WORDS: u32 = (PATH_LEN / 8) as u32;
    let mut scan = Scan::new();
    let mut w = 0u32;
    while w < WORDS {
        let o = w * 8;
        if o >= len {
            break;
        }
        // SAFETY: o + 8 <= PATH_LEN: inside str0 or str1, both 8-aligned.
        scan.word(
            unsafe { *(src.add(o as usize) as *const u64) },
            keep(len, o),
        );
        w += 1;
    }
    scan.word(0, 0);
    scan.found()
}
