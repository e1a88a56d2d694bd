//! `aya::Pod` for every type that crosses a map or global.

use crate::filter::{NameKey, PathPrefix};
use crate::*;

// SAFETY: all are #[repr(C)], contain only integers and byte arrays, and are
// padded by hand so that every byte pattern is a valid value.
unsafe impl aya::Pod for KernelOffsets {}
unsafe impl aya::Pod for PathPrefix {}
unsafe impl aya::Pod for NameKey {}
unsafe impl aya::Pod for SyscallRecord {}
unsafe impl aya::Pod for CgroupCounters {}
