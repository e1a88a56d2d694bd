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
        o.task_signal = get("task_struct.signal")?;
        o.signal_tty = get("signal_struct.tty")?;
        o.signal_pids = get("signal_struct.pids")?;
        o.tty_index = get("tty_struct.index")?;
        o.tty_driver = get("tty_struct.driver")?;
        o.tty_driver_major = get("tty_driver.major")?;
        o.tty_driver_minor_start = get("tty_driver.minor_start")?;
        o.task_loginuid = get("task_struct.loginuid")?;
        o.upid_ns = get("upid.ns")?;
        o.task_files = get("task_struct.files")?;
        o.files_fdt = get("files_struct.fdt")?;
        o.fdtable_max_fds = get("fdtable.max_fds")?;
        o.fdtable_fd = get("fdtable.fd")?;
        o.file_private_data = get("file.private_data")?;
        o.inode_i_mode = get("inode.i_mode")?;
        o.socket_sk = get("socket.sk")?;
        o.sk_family = get("sock.__sk_common.skc_family")?;
        o.sk_daddr = get("sock.__sk_common.skc_daddr")?;
        o.sk_dport = get("sock.__sk_common.skc_dport")?;
        o.sk_v6_daddr = get("sock.__sk_common.skc_v6_daddr")?;
        o.sk_rcv_saddr = get("sock.__sk_common.skc_rcv_saddr")?;
        o.sk_num = get("sock.__sk_common.skc_num")?;
        o.sk_v6_rcv_saddr = get("sock.__sk_common.skc_v6_rcv_saddr")?;
        o.sk_type = get("sock.sk_type")?;
        o.sk_protocol = get("sock.sk_protocol")?;
        // monitor_common::io_uring::MEMBERS, in that order.
        o.io_kiocb_cmd = get("io_kiocb.cmd")?;
        o.io_kiocb_flags = get("io_kiocb.flags")?;
        o.io_kiocb_cqe_fd = get("io_kiocb.cqe.fd")?;
        o.io_open_dfd = get("io_open.dfd")?;
        o.io_open_filename = get("io_open.filename")?;
        o.io_open_how = get("io_open.how")?;
        o.filename_name = get("filename.name")?;
        o.io_connect_addr = get("io_connect.addr")?;
        o.io_connect_addr_len = get("io_connect.addr_len")?;
        o.task_fs = get("task_struct.fs")?;
        o.fs_pwd_dentry = get("fs_struct.pwd.dentry")?;
        o.fs_pwd_mnt = get("fs_struct.pwd.mnt")?;
        o.mm_env_start = get("mm_struct.env_start")?;
        o.mm_env_end = get("mm_struct.env_end")?;
        o.inode_i_uid = get("inode.i_uid")?;
        o.inode_i_gid = get("inode.i_gid")?;
        o.unix_sock_addr = get("unix_sock.addr")?;
        o.unix_address_len = get("unix_address.len")?;
        o.unix_address_name = get("unix_address.name")?;
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
