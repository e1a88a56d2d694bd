//! The in-kernel open filter: only opens whose path matches a configured
//! prefix (LPM trie) or whose final component matches a configured name
//! (hash) go on to userspace; `when::WRITE` entries only count for opens
//! that can modify the file.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel;
use core::ffi::c_void;
use monitor_common::{
    filter::{when, NAME_LEN, PREFIX_LEN},
    syscall_flags, SyscallRecord, PATH_LEN,
};

use crate::maps::{FILTER_SCRATCH, OPEN_NAMES, OPEN_PREFIXES};

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

/// Whether an open whose path matched `verdict` (the `when` bits of its
/// entries) should be reported.
#[inline(always)]
pub fn reported(verdict: u32, write: bool) -> bool {
    verdict & when::ANY != 0
        || (write && verdict & (when::WRITE | when::DENY_WRITE | when::KILL_WRITE) != 0)
}

/// The `when` bits of every filter entry the open's path matches: the
/// kernel's resolution of a relative path (`str1`, see `open_path`), else
/// the path as passed (`str0`).
#[inline(always)]
pub fn matches(rec: &SyscallRecord) -> u32 {
    let (src, len) = if rec.flags & syscall_flags::PATH_AT != 0 && rec.str1_len != 0 {
        (rec.str1.as_ptr(), rec.str1_len as u32)
    } else {
        (rec.str0.as_ptr(), rec.str0_len as u32)
    };
    if len == 0 {
        return 0;
    }
    let Some(s) = FILTER_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    let base = s as *mut u8;

    // Prefix: the first PREFIX_LEN bytes of the path, zero-padded so that
    // stale bytes cannot extend a short path into a longer prefix.
    // SAFETY: offsets are inside FilterScratch (4 + 4 + PREFIX_LEN + NAME_LEN bytes).
    unsafe {
        *(base.add(4) as *mut u32) = (PREFIX_LEN * 8) as u32;
        let data = base.add(8) as *mut u64;
        let mut i = 0;
        while i < PREFIX_LEN / 8 {
            *data.add(i) = 0;
            i += 1;
        }
        let n = if len > PREFIX_LEN as u32 {
            PREFIX_LEN as u32
        } else {
            len
        };
        let n = ((n - 1) & (PREFIX_LEN as u32 - 1)) + 1;
        bpf_probe_read_kernel(data as *mut c_void, n, src as *const c_void);
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
            let name = base.add(8 + PREFIX_LEN) as *mut u64;
            let mut i = 0;
            while i < NAME_LEN / 8 {
                *name.add(i) = 0;
                i += 1;
            }
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
