//! Kernel module loads (`module/module_load` raw tracepoint): fires once a
//! module is loaded, whichever syscall loaded it.

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use core::mem::size_of;
use monitor_common::{EventKind, ModuleRecord, SHORT_LEN};

use crate::globals::off;
use crate::header;
use crate::kread::kernel_str;
use crate::maps::{count_drop, lazy_wake, EVENTS};

// module_load(struct module *mod)
#[raw_tracepoint(tracepoint = "module_load")]
pub fn module_load(ctx: RawTracePointContext) -> i32 {
    let module: u64 = ctx.arg(0);
    let name_off = off!(module_name);
    let Some(mut entry) = EVENTS.reserve::<ModuleRecord>(0) else {
        count_drop(EventKind::ModuleLoad);
        return 0;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation.
    unsafe {
        header::fill(
            &raw mut (*rec).header,
            EventKind::ModuleLoad,
            size_of::<ModuleRecord>(),
        );
        (*rec)._pad = [0; 3];
        (*rec).name_len = 0;
        if module != 0 && name_off != monitor_common::KernelOffsets::MISSING {
            // `name` is an array inside struct module, not a pointer.
            let s = kernel_str(
                (*rec).name.as_mut_ptr(),
                SHORT_LEN as u32,
                module + name_off as u64,
            );
            (*rec).name_len = s.len;
        }
    }
    entry.submit(lazy_wake());
    0
}
