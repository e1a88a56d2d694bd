//! cgroup directory creation/removal (`cgroup/cgroup_mkdir`, `cgroup_rmdir`
//! raw tracepoints). The agent learns the id → path mapping of a container's
//! cgroup when it is born, so even short-lived containers are attributed.

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use core::mem::size_of;
use monitor_common::{CgroupRecord, EventKind, PATH_LEN};

use crate::globals::off;
use crate::header;
use crate::kread::{kernel_str, ptr, read};
use crate::maps::{count_drop, lazy_wake, EVENTS};

// cgroup_mkdir(struct cgroup *cgrp, const char *path)
#[raw_tracepoint(tracepoint = "cgroup_mkdir")]
pub fn cgroup_mkdir(ctx: RawTracePointContext) -> i32 {
    on_cgroup(ctx.arg(0), ctx.arg(1), EventKind::CgroupMkdir)
}

// cgroup_rmdir(struct cgroup *cgrp, const char *path)
#[raw_tracepoint(tracepoint = "cgroup_rmdir")]
pub fn cgroup_rmdir(ctx: RawTracePointContext) -> i32 {
    on_cgroup(ctx.arg(0), ctx.arg(1), EventKind::CgroupRmdir)
}

#[inline(always)]
fn on_cgroup(cgrp: u64, path: u64, kind: EventKind) -> i32 {
    let Some(mut entry) = EVENTS.reserve::<CgroupRecord>(0) else {
        count_drop(kind);
        return 0;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation.
    unsafe {
        header::fill(&raw mut (*rec).header, kind, size_of::<CgroupRecord>());
        let r = &mut *rec;
        r._pad = 0;
        r.id = ptr(cgrp, off!(cgroup_kn))
            .and_then(|kn| read::<u64>(kn, off!(kernfs_node_id)))
            .unwrap_or(0);
        r.hierarchy_id = ptr(cgrp, off!(cgroup_root))
            .and_then(|root| read::<u32>(root, off!(cgroup_root_hierarchy_id)))
            .unwrap_or(u32::MAX);
        r.level = read::<u32>(cgrp, off!(cgroup_level)).unwrap_or(0);
        let s = kernel_str(r.path.as_mut_ptr(), PATH_LEN as u32, path);
        r.path_len = s.len;
        r.truncated = s.truncated as u16;
    }
    entry.submit(lazy_wake());
    0
}
