//! Stores the compiler must leave alone. LLVM merges neighbouring stores
//! of zero (and zero-filled arrays) into one `memset`, which the BPF
//! target has no instruction for: it becomes a call to a byte-at-a-time
//! loop, four instructions a byte. On the hot paths (every hooked
//! syscall's enter, every record's header) the fields are set one by one
//! through volatile stores instead, which are never merged.

/// `*dst = v`, as a store of its own.
#[inline(always)]
pub fn put<T>(dst: &mut T, v: T) {
    // SAFETY: `dst` is a valid, aligned, exclusive reference.
    unsafe { core::ptr::write_volatile(dst, v) }
}

/// Zero the `N` words at `dst`, word by word.
#[inline(always)]
pub fn zero_words<const N: usize>(dst: &mut [u64; N]) {
    let mut i = 0;
    while i < N {
        put(&mut dst[i], 0);
        i += 1;
    }
}
