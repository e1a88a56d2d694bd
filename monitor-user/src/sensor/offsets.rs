//! Builds [`KernelOffsets`] for the running kernel from its BTF.
//!
//! Every field the programs read is looked up by member path. A member the
//! kernel lacks becomes [`KernelOffsets::MISSING`] (the programs then skip
//! that read); only members without which no record makes sense are
//! essential and fail the load.

use monitor_common::KernelOffsets;

use super::btf::{Btf, BtfError};

/// Why offsets could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum OffsetsError {
    #[error("kernel BTF: {0}")]
    Btf(#[from] BtfError),
    #[error("essential kernel struct member missing: {path} ({source})")]
    Essential {
        path: &'static str,
        source: BtfError,
    },
}

/// A member that could not be resolved (left as MISSING).
#[derive(Debug)]
pub struct Missing {
    pub path: &'static str,
    pub reason: String,
}

/// Members without which the sensor cannot produce meaningful records.
const ESSENTIAL: &[&str] = &[
    "task_struct.real_parent",
    "task_struct.tgid",
    "task_struct.pid",
    "task_struct.cred",
    "task_struct.nsproxy",
    "task_struct.mm",
    "cred.uid",
    "cred.gid",
    "cred.euid",
    "cred.egid",
    "linux_binprm.filename",
    "linux_binprm.file",
    "mm_struct.arg_start",
    "mm_struct.arg_end",
];

/// Resolve every offset. Returns the offsets and the non-essential members
/// that were not found.
pub fn resolve(btf: &Btf) -> Result<(KernelOffsets, Vec<Missing>), OffsetsError> {
    let mut missing = Vec::new();
    let mut o = KernelOffsets::missing();
    {
        let mut get = |path: &'static str| -> Result<u32, OffsetsError> {
            match btf.byte_offset(path) {
                Ok(v) => Ok(v),
                Err(source) if ESSENTIAL.contains(&path) => {
                    Err(OffsetsError::Essential { path, source })
                }
                Err(e) => {
                    missing.push(Missing {
                        path,
                        reason: e.to_string(),
                    });
                    Ok(KernelOffsets::MISSING)
                }
            }
        };
        o.task_real_parent = get("task_struct.real_parent")?;
        o.task_tgid = get("task_struct.tgid")?;
        o.task_pid = get("task_struct.pid")?;
        o.task_cred = get("task_struct.cred")?;
        o.task_nsproxy = get("task_struct.nsproxy")?;
        o.task_mm = get("task_struct.mm")?;
        o.task_exit_code = get("task_struct.exit_code")?;
        o.task_comm = get("task_struct.comm")?;
        o.cred_uid = get("cred.uid")?;
        o.cred_gid = get("cred.gid")?;
        o.cred_euid = get("cred.euid")?;
        o.cred_egid = get("cred.egid")?;
        o.cred_cap_effective = get("cred.cap_effective")?;
        o.cred_cap_permitted = get("cred.cap_permitted")?;
        o.cred_user_ns = get("cred.user_ns")?;
        o.nsproxy_uts_ns = get("nsproxy.uts_ns")?;
        o.nsproxy_ipc_ns = get("nsproxy.ipc_ns")?;
        o.nsproxy_mnt_ns = get("nsproxy.mnt_ns")?;
        o.nsproxy_pid_ns_for_children = get("nsproxy.pid_ns_for_children")?;
        o.nsproxy_net_ns = get("nsproxy.net_ns")?;
        o.nsproxy_cgroup_ns = get("nsproxy.cgroup_ns")?;
        o.uts_ns_inum = get("uts_namespace.ns.inum")?;
        o.ipc_ns_inum = get("ipc_namespace.ns.inum")?;
        o.mnt_ns_inum = get("mnt_namespace.ns.inum")?;
        o.pid_ns_inum = get("pid_namespace.ns.inum")?;
        o.net_ns_inum = get("net.ns.inum")?;
        o.cgroup_ns_inum = get("cgroup_namespace.ns.inum")?;
        o.user_ns_inum = get("user_namespace.ns.inum")?;
        o.mm_arg_start = get("mm_struct.arg_start")?;
        o.mm_arg_end = get("mm_struct.arg_end")?;
        o.mm_exe_file = get("mm_struct.exe_file")?;
        o.file_f_path_dentry = get("file.f_path.dentry")?;
        o.file_f_path_mnt = get("file.f_path.mnt")?;
        o.file_f_inode = get("file.f_inode")?;
        o.dentry_d_parent = get("dentry.d_parent")?;
        o.dentry_d_name_name = get("dentry.d_name.name")?;
        o.dentry_d_name_len = get("dentry.d_name.len")?;
        o.dentry_d_inode = get("dentry.d_inode")?;
        o.dentry_d_sb = get("dentry.d_sb")?;
        o.inode_i_ino = get("inode.i_ino")?;
        o.inode_i_nlink = get("inode.i_nlink")?;
        o.sb_s_magic = get("super_block.s_magic")?;
        o.mount_mnt = get("mount.mnt")?;
        o.mount_mnt_parent = get("mount.mnt_parent")?;
        o.mount_mnt_mountpoint = get("mount.mnt_mountpoint")?;
        o.vfsmount_mnt_root = get("vfsmount.mnt_root")?;
        o.bprm_filename = get("linux_binprm.filename")?;
        o.bprm_file = get("linux_binprm.file")?;
        o.bprm_argc = get("linux_binprm.argc")?;
        o.cgroup_kn = get("cgroup.kn")?;
        o.cgroup_root = get("cgroup.root")?;
        o.cgroup_level = get("cgroup.level")?;
        o.kernfs_node_id = get("kernfs_node.id")?;
        o.cgroup_root_hierarchy_id = get("cgroup_root.hierarchy_id")?;
        o.module_name = get("module.name")?;
        o.task_thread_pid = get("task_struct.thread_pid")?;
        o.pid_level = get("pid.level")?;
        o.pid_numbers = get("pid.numbers")?;
        o.upid_nr = get("upid.nr")?;
        o.task_flags = get("task_struct.flags")?;
        o.file_f_flags = get("file.f_flags")?;
        o.file_f_path = get("file.f_path")?;
    }
    o.upid_size = match btf.struct_size("upid") {
        Ok(v) => v,
        Err(e) => {
            missing.push(Missing {
                path: "sizeof(struct upid)",
                reason: e.to_string(),
            });
            KernelOffsets::MISSING
        }
    };
    o.inode_size = match btf.struct_size("inode") {
        Ok(v) => v,
        Err(e) => {
            missing.push(Missing {
                path: "sizeof(struct inode)",
                reason: e.to_string(),
            });
            KernelOffsets::MISSING
        }
    };
    Ok((o, missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn resolves_everything_on_this_kernel() {
        if !Path::new(super::super::btf::VMLINUX).exists() {
            eprintln!("skipping: no kernel BTF");
            return;
        }
        let btf = Btf::from_sys_fs().unwrap();
        let (o, missing) = resolve(&btf).unwrap();
        assert!(missing.is_empty(), "missing on this kernel: {missing:?}");
        assert_ne!(o.task_tgid, KernelOffsets::MISSING);
        assert_eq!(o.task_tgid, o.task_pid + 4);
        assert!(o.inode_size > o.inode_i_ino);
    }
}
