//! The one helper that fills the [`Header`] every record starts with.

use aya_ebpf::helpers::{
    bpf_get_current_pid_tgid,
    generated::{
        self as gen, bpf_get_current_cgroup_id, bpf_get_current_task, bpf_ktime_get_boot_ns,
    },
};
use core::ffi::c_void;
use monitor_common::{EventKind, Header, COMM_LEN, RECORD_VERSION};

use crate::globals::off;
use crate::kread::{ptr, read};
use crate::store::put;

/// Fill `*h` for the current task. `size` is the whole record's size.
#[inline(always)]
pub fn fill(h: *mut Header, kind: EventKind, size: usize) {
    // SAFETY: `h` points into a map value or ring-buffer reservation that
    // holds a whole record.
    let h = unsafe { &mut *h };
    h.kind = kind as u16;
    h.version = RECORD_VERSION;
    h.size = size as u32;
    // SAFETY: plain helpers without arguments.
    unsafe {
        h.boot_ns = bpf_ktime_get_boot_ns();
        h.cgroup_id = bpf_get_current_cgroup_id();
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    h.tgid = (pid_tgid >> 32) as u32;
    h.tid = pid_tgid as u32;
    put(&mut h._pad, 0);
    // Straight into the header (the helper zeroes it on failure): a copy
    // of the array would go byte by byte.
    // SAFETY: `comm` is COMM_LEN writable bytes.
    unsafe { gen::bpf_get_current_comm(h.comm.as_mut_ptr() as *mut c_void, COMM_LEN as u32) };

    // SAFETY: helper without arguments.
    let task = unsafe { bpf_get_current_task() };
    h.ppid = ptr(task, off!(task_real_parent))
        .and_then(|p| read::<u32>(p, off!(task_tgid)))
        .unwrap_or(0);

    let cred = ptr(task, off!(task_cred)).unwrap_or(0);
    h.uid = read::<u32>(cred, off!(cred_uid)).unwrap_or(u32::MAX);
    h.gid = read::<u32>(cred, off!(cred_gid)).unwrap_or(u32::MAX);
    h.euid = read::<u32>(cred, off!(cred_euid)).unwrap_or(u32::MAX);
    h.egid = read::<u32>(cred, off!(cred_egid)).unwrap_or(u32::MAX);

    let nsproxy = ptr(task, off!(task_nsproxy)).unwrap_or(0);
    h.ns.mnt = ns_inum(nsproxy, off!(nsproxy_mnt_ns), off!(mnt_ns_inum));
    h.ns.pid = ns_inum(
        nsproxy,
        off!(nsproxy_pid_ns_for_children),
        off!(pid_ns_inum),
    );
    h.ns.net = ns_inum(nsproxy, off!(nsproxy_net_ns), off!(net_ns_inum));
    h.ns.uts = ns_inum(nsproxy, off!(nsproxy_uts_ns), off!(uts_ns_inum));
    h.ns.ipc = ns_inum(nsproxy, off!(nsproxy_ipc_ns), off!(ipc_ns_inum));
    h.ns.cgroup = ns_inum(nsproxy, off!(nsproxy_cgroup_ns), off!(cgroup_ns_inum));
    h.ns.user = ns_inum(cred, off!(cred_user_ns), off!(user_ns_inum));
    put(&mut h.ns._pad, 0);
}

/// `owner->ns_field->ns.inum`, 0 when unknown.
#[inline(always)]
fn ns_inum(owner: u64, ns_field: u32, inum: u32) -> u32 {
    ptr(owner, ns_field)
        .and_then(|ns| read::<u32>(ns, inum))
        .unwrap_or(0)
}
