//! Kernel struct member offsets, resolved at start from the running kernel's
//! BTF (`/sys/kernel/btf/vmlinux`) and handed to the eBPF programs as the
//! global `OFFSETS` before load. Nothing about kernel struct layout is baked
//! in at compile time, so one build runs on 6.1 and 6.18 alike.
//!
//! Each field is a byte offset of a member within its struct (nested members
//! such as `file.f_path.dentry` are summed by the resolver). A value of
//! [`KernelOffsets::MISSING`] means the kernel lacks that member; programs
//! must then skip the read and flag the data as unknown.

shared_struct! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct KernelOffsets {
        // task_struct
        pub task_real_parent: u32,
        pub task_tgid: u32,
        pub task_pid: u32,
        pub task_cred: u32,
        pub task_nsproxy: u32,
        pub task_mm: u32,
        pub task_exit_code: u32,
        pub task_comm: u32,
        // cred
        pub cred_uid: u32,
        pub cred_gid: u32,
        pub cred_euid: u32,
        pub cred_egid: u32,
        pub cred_cap_effective: u32,
        pub cred_cap_permitted: u32,
        pub cred_user_ns: u32,
        // nsproxy
        pub nsproxy_uts_ns: u32,
        pub nsproxy_ipc_ns: u32,
        pub nsproxy_mnt_ns: u32,
        pub nsproxy_pid_ns_for_children: u32,
        pub nsproxy_net_ns: u32,
        pub nsproxy_cgroup_ns: u32,
        // `ns.inum` within each namespace struct
        pub uts_ns_inum: u32,
        pub ipc_ns_inum: u32,
        pub mnt_ns_inum: u32,
        pub pid_ns_inum: u32,
        pub net_ns_inum: u32,
        pub cgroup_ns_inum: u32,
        pub user_ns_inum: u32,
        // mm_struct
        pub mm_arg_start: u32,
        pub mm_arg_end: u32,
        pub mm_exe_file: u32,
        // file / path / dentry / inode / super_block
        pub file_f_path_dentry: u32,
        pub file_f_path_mnt: u32,
        pub file_f_inode: u32,
        pub dentry_d_parent: u32,
        pub dentry_d_name_name: u32,
        pub dentry_d_name_len: u32,
        pub dentry_d_inode: u32,
        pub dentry_d_sb: u32,
        pub inode_i_ino: u32,
        pub inode_i_nlink: u32,
        /// `sizeof(struct inode)`: overlayfs's `ovl_inode` puts its upper
        /// dentry pointer right after the embedded inode.
        pub inode_size: u32,
        pub sb_s_magic: u32,
        // struct mount (vfsmount is embedded at `mount_mnt`)
        pub mount_mnt: u32,
        pub mount_mnt_parent: u32,
        pub mount_mnt_mountpoint: u32,
        pub vfsmount_mnt_root: u32,
        // linux_binprm
        pub bprm_filename: u32,
        pub bprm_file: u32,
        // cgroup
        pub cgroup_kn: u32,
        pub cgroup_root: u32,
        pub cgroup_level: u32,
        pub kernfs_node_id: u32,
        pub cgroup_root_hierarchy_id: u32,
        // module
        pub module_name: u32,
        /// `linux_binprm.argc`: the exec's true argument count, which may
        /// exceed what fits in [`crate::ExecRecord::args`].
        pub bprm_argc: u32,
        // pid namespaces: task->thread_pid->numbers[level].nr
        pub task_thread_pid: u32,
        pub pid_level: u32,
        pub pid_numbers: u32,
        /// `sizeof(struct upid)`.
        pub upid_size: u32,
        pub upid_nr: u32,
        // BPF-LSM programs (monitor-ebpf/src/lsm/)
        /// `task_struct.flags` (`PF_IO_WORKER`: an io_uring worker thread).
        pub task_flags: u32,
        /// `file.f_flags` (the open flags, minus O_CREAT/O_EXCL/O_TRUNC).
        pub file_f_flags: u32,
        /// `file.f_path` (a `struct path`, handed to `bpf_d_path`).
        pub file_f_path: u32,
        // The session fields of an exec: task->signal->{tty, pids[]},
        // tty->{index, driver->{major, minor_start}}, task->loginuid.
        pub task_signal: u32,
        pub signal_tty: u32,
        /// `signal_struct.pids`: `struct pid *[PIDTYPE_MAX]`.
        pub signal_pids: u32,
        pub tty_index: u32,
        pub tty_driver: u32,
        pub tty_driver_major: u32,
        pub tty_driver_minor_start: u32,
        pub task_loginuid: u32,
        /// `upid.ns`: which namespace a number belongs to.
        pub upid_ns: u32,
        // dup's socket: task->files->fdt->fd[n]->{f_inode->i_mode,
        // private_data (struct socket)->sk->__sk_common}.
        pub task_files: u32,
        pub files_fdt: u32,
        pub fdtable_max_fds: u32,
        pub fdtable_fd: u32,
        pub file_private_data: u32,
        pub inode_i_mode: u32,
        pub socket_sk: u32,
        pub sk_family: u32,
        pub sk_daddr: u32,
        pub sk_dport: u32,
        pub sk_v6_daddr: u32,
        // network (issue 16): the socket's own endpoints, type and protocol.
        pub sk_rcv_saddr: u32,
        pub sk_num: u32,
        pub sk_v6_rcv_saddr: u32,
        pub sk_type: u32,
        pub sk_protocol: u32,
        // io_uring requests (crate::io_uring): the op's data lives in
        // io_kiocb.cmd (struct io_open, struct io_connect).
        pub io_kiocb_cmd: u32,
        pub io_kiocb_flags: u32,
        pub io_kiocb_cqe_fd: u32,
        pub io_open_dfd: u32,
        pub io_open_filename: u32,
        pub io_open_how: u32,
        pub filename_name: u32,
        pub io_connect_addr: u32,
        pub io_connect_addr_len: u32,
        // paths (issue 13): the working directory a relative open is
        // resolved against, task->fs->pwd.{dentry, mnt}.
        pub task_fs: u32,
        pub fs_pwd_dentry: u32,
        pub fs_pwd_mnt: u32,
        // issue 15: what an exec record carries so the agent need not read
        // /proc: the environment (mm->env_start..env_end), the
        // executable's owner, the filesystem of a standard fd and a unix
        // socket's bound path (unix_sock.addr->name).
        pub mm_env_start: u32,
        pub mm_env_end: u32,
        pub inode_i_uid: u32,
        pub inode_i_gid: u32,
        pub unix_sock_addr: u32,
        pub unix_address_len: u32,
        pub unix_address_name: u32,
    }
}

impl KernelOffsets {
    pub const MISSING: u32 = u32::MAX;

    /// All offsets missing: what the programs see if userspace never set them.
    pub const fn missing() -> Self {
        // Every field is a u32, so this is sound in a const context.
        let m = Self::MISSING;
        KernelOffsets {
            task_real_parent: m,
            task_tgid: m,
            task_pid: m,
            task_cred: m,
            task_nsproxy: m,
            task_mm: m,
            task_exit_code: m,
            task_comm: m,
            cred_uid: m,
            cred_gid: m,
            cred_euid: m,
            cred_egid: m,
            cred_cap_effective: m,
            cred_cap_permitted: m,
            cred_user_ns: m,
            nsproxy_uts_ns: m,
            nsproxy_ipc_ns: m,
            nsproxy_mnt_ns: m,
            nsproxy_pid_ns_for_children: m,
            nsproxy_net_ns: m,
            nsproxy_cgroup_ns: m,
            uts_ns_inum: m,
            ipc_ns_inum: m,
            mnt_ns_inum: m,
            pid_ns_inum: m,
            net_ns_inum: m,
            cgroup_ns_inum: m,
            user_ns_inum: m,
            mm_arg_start: m,
            mm_arg_end: m,
            mm_exe_file: m,
            file_f_path_dentry: m,
            file_f_path_mnt: m,
            file_f_inode: m,
            dentry_d_parent: m,
            dentry_d_name_name: m,
            dentry_d_name_len: m,
            dentry_d_inode: m,
            dentry_d_sb: m,
            inode_i_ino: m,
            inode_i_nlink: m,
            inode_size: m,
            sb_s_magic: m,
            mount_mnt: m,
            mount_mnt_parent: m,
            mount_mnt_mountpoint: m,
            vfsmount_mnt_root: m,
            bprm_filename: m,
            bprm_file: m,
            cgroup_kn: m,
            cgroup_root: m,
            cgroup_level: m,
            kernfs_node_id: m,
            cgroup_root_hierarchy_id: m,
            module_name: m,
            bprm_argc: m,
            task_thread_pid: m,
            pid_level: m,
            pid_numbers: m,
            upid_size: m,
            upid_nr: m,
            task_flags: m,
            file_f_flags: m,
            file_f_path: m,
            task_signal: m,
            signal_tty: m,
            signal_pids: m,
            tty_index: m,
            tty_driver: m,
            tty_driver_major: m,
            tty_driver_minor_start: m,
            task_loginuid: m,
            upid_ns: m,
            task_files: m,
            files_fdt: m,
            fdtable_max_fds: m,
            fdtable_fd: m,
            file_private_data: m,
            inode_i_mode: m,
            socket_sk: m,
            sk_family: m,
            sk_daddr: m,
            sk_dport: m,
            sk_v6_daddr: m,
            sk_rcv_saddr: m,
            sk_num: m,
            sk_v6_rcv_saddr: m,
            sk_type: m,
            sk_protocol: m,
            io_kiocb_cmd: m,
            io_kiocb_flags: m,
            io_kiocb_cqe_fd: m,
            io_open_dfd: m,
            io_open_filename: m,
            io_open_how: m,
            filename_name: m,
            io_connect_addr: m,
            io_connect_addr_len: m,
            task_fs: m,
            fs_pwd_dentry: m,
            fs_pwd_mnt: m,
            mm_env_start: m,
            mm_env_end: m,
            inode_i_uid: m,
            inode_i_gid: m,
            unix_sock_addr: m,
            unix_address_len: m,
            unix_address_name: m,
        }
    }
}
