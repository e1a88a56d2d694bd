//! The sandbox: a cgroup named as Docker names a container's, its own
//! mount, UTS and IPC namespaces, and the acts run inside it (this test
//! binary run again as the ignored `sandbox_body` test).

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use crate::{AGENT_PID_ENV, NET_PORTS_ENV, PTRACE_ENV, SANDBOX_ENV};

/// The sandbox's cgroup (`<v2 root>/docker/<64 hex>`, so the agent
/// attributes it to a container) and scratch directory; removed on drop.
pub struct Sandbox {
    pub id: String,
    pub cgroup: PathBuf,
    /// `<v2 root>/docker`, when this test created it (removed again).
    pub made_parent: Option<PathBuf>,
    pub dir: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = vigil_tests::podman::cgroup2_root().expect("a cgroup v2 hierarchy");
        let parent = root.join("docker");
        let made_parent = (!parent.exists()).then(|| parent.clone());
        std::fs::create_dir_all(&parent).expect("create the docker cgroup");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let id = format!(
            "{:016x}{:08x}{:040x}",
            nanos as u64,
            std::process::id(),
            0x15f
        );
        assert_eq!(id.len(), 64);
        let cgroup = parent.join(&id);
        std::fs::create_dir(&cgroup).expect("create the sandbox cgroup");
        // Unique per sandbox: the tests of this file run in parallel.
        let dir = std::env::temp_dir().join(format!("vigil-lsm-{}", &id[..24]));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mnt")).unwrap();
        std::fs::create_dir_all(dir.join("cg")).unwrap();
        std::os::unix::fs::symlink("/bin/busybox", dir.join("wget")).unwrap();
        Sandbox {
            id,
            cgroup,
            made_parent,
            dir,
        }
    }

    /// Runs `sandbox_body` in the sandbox (told the agent's pid, and the
    /// loopback ports of the network acts: a listener on a mining-pool
    /// port, a free port to bind); returns its output.
    pub fn run(&self, agent_pid: u32, ptrace: bool, net: Option<(u16, u16)>) -> String {
        let mut cmd = self.command(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "sandbox_body",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SANDBOX_ENV, &self.dir)
        .env(AGENT_PID_ENV, agent_pid.to_string());
        if ptrace {
            cmd.env(PTRACE_ENV, "1");
        }
        if let Some((miner, bind)) = net {
            cmd.env(NET_PORTS_ENV, format!("{miner},{bind}"));
        }
        let out = cmd.output().expect("run the sandbox");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "sandbox failed: {}\n{text}",
            out.status
        );
        text
    }

    /// `program`, to be run in the sandbox's cgroup and namespaces.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let procs = CString::new(
            self.cgroup
                .join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        let mut cmd = Command::new(program);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The sandbox has exited, so its cgroup is empty.
        let _ = std::fs::remove_dir(&self.cgroup);
        if let Some(p) = &self.made_parent {
            let _ = std::fs::remove_dir(p);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn body() {
    let Some(dir) = std::env::var_os(SANDBOX_ENV).map(PathBuf::from) else {
        eprintln!("not in a sandbox ({SANDBOX_ENV} unset): nothing to do");
        return;
    };
    std::env::set_current_dir(&dir).unwrap();
    let report = |what: &str, r: std::io::Result<()>| match r {
        Ok(()) => println!("{what}: ok"),
        Err(e) => println!("{what}: {e}"),
    };
    let c = |s: &str| CString::new(s).unwrap();
    let check = |rc: libc::c_long| {
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // Our own mounts stay in our mount namespace.
    // SAFETY: valid C strings or NULL, as mount(2) takes them.
    report(
        "private mounts",
        check(unsafe {
            libc::mount(
                std::ptr::null(),
                c("/").as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        } as libc::c_long),
    );

    report(
        "exec wget",
        Command::new(dir.join("wget"))
            .arg("--help")
            .output()
            .map(drop),
    );
    report("read /etc/shadow", std::fs::read("/etc/shadow").map(drop));
    report("io_uring read /etc/gshadow", io_uring_open("/etc/gshadow"));
    // A relative target: the LSM hook reports it resolved.
    // SAFETY: valid C strings.
    report(
        "mount proc",
        check(unsafe {
            libc::mount(
                c("proc").as_ptr(),
                c("mnt").as_ptr(),
                c("proc").as_ptr(),
                0,
                std::ptr::null(),
            )
        } as libc::c_long),
    );
    // Not a module: the kernel takes it (the LSM hook fires), then finds
    // it is no ELF module and refuses it. Shorter than an ELF header, it
    // would be refused before the hook.
    let mut garbage = vec![0u8; 4096];
    garbage[..4].copy_from_slice(b"\x7fELF");
    // SAFETY: a valid buffer and an empty parameter string.
    report(
        "init_module",
        check(unsafe {
            libc::syscall(
                libc::SYS_init_module,
                garbage.as_ptr(),
                garbage.len(),
                c("").as_ptr(),
            )
        }),
    );
    // A cgroup v1 hierarchy of our own (a name, no controllers) has a
    // release_agent; opening it for writing is the act (nothing written).
    let opts = c(&format!("none,name=vigil-lsm-{}", std::process::id()));
    // SAFETY: valid C strings.
    let mounted = check(unsafe {
        libc::mount(
            c("cgroup").as_ptr(),
            c("cg").as_ptr(),
            c("cgroup").as_ptr(),
            0,
            opts.as_ptr().cast(),
        )
    } as libc::c_long);
    report("mount cgroup v1", mounted);
    report(
        "open release_agent for writing",
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cg/release_agent"))
            .map(drop),
    );
    // SAFETY: valid C string.
    unsafe { libc::umount2(c("cg").as_ptr(), libc::MNT_DETACH) };
    report("exec a memfd", exec_memfd());
    crate::acts::credentials_root_bpf_and_memory(&dir);
    let ports = std::env::var(NET_PORTS_ENV).ok();
    if let Some((miner, bind)) = ports.as_deref().and_then(|p| p.split_once(',')) {
        crate::acts::network(miner.parse().unwrap(), bind.parse().unwrap());
    }
    // SIGHUP: if it is not refused (tracepoint mode), the agent only
    // reloads its rules.
    if let Some(pid) = std::env::var(AGENT_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<libc::pid_t>().ok())
    {
        // SAFETY: kill(2) with a pid and a signal number.
        report(
            "signal the agent",
            check(unsafe { libc::kill(pid, libc::SIGHUP) } as libc::c_long),
        );
        if std::env::var_os(PTRACE_ENV).is_some() {
            // PTRACE_SEIZE does not stop the tracee; were it allowed, our
            // exit would detach.
            // SAFETY: ptrace(2) with a pid and null address and data.
            report(
                "ptrace the agent",
                check(unsafe {
                    libc::ptrace(
                        libc::PTRACE_SEIZE,
                        pid,
                        std::ptr::null_mut::<libc::c_void>(),
                        std::ptr::null_mut::<libc::c_void>(),
                    )
                }),
            );
        }
    }
    unsafe { libc::umount2(c("mnt").as_ptr(), libc::MNT_DETACH) };
}

/// Fileless execution: busybox copied into a memfd and run from there
/// (`/proc/self/fd/N`, as `fexecve` does), as `true`.
fn exec_memfd() -> std::io::Result<()> {
    let name = CString::new("vigil-lsm").unwrap();
    // SAFETY: a valid C string; no MFD_CLOEXEC, the child execs the fd.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the fd memfd_create just gave us, owned from here.
    let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    std::io::Write::write_all(&mut file, &std::fs::read("/bin/busybox")?)?;
    let status = Command::new(format!("/proc/self/fd/{fd}"))
        .arg0("true")
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!("the memfd's true: {status}")));
    }
    Ok(())
}

/// `openat(AT_FDCWD, path, O_RDONLY)` submitted through io_uring.
fn io_uring_open(path: &str) -> std::io::Result<()> {
    use io_uring::{opcode, types};
    let p = CString::new(path).unwrap();
    let sqe = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), p.as_ptr())
        .flags(libc::O_RDONLY)
        .build();
    // SAFETY: `p` outlives the call, which waits for the completion.
    let fd = unsafe { io_uring_one(&sqe) }?;
    // SAFETY: the fd io_uring opened for us.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Submits `sqe` on a ring of its own and waits for it: its result, or
/// the error it completed with.
///
/// # Safety
/// The buffers `sqe` points to must stay valid until this returns.
pub unsafe fn io_uring_one(sqe: &io_uring::squeue::Entry) -> std::io::Result<i32> {
    let mut ring = io_uring::IoUring::new(4)?;
    // SAFETY: the caller keeps the buffers valid; we wait for completion.
    unsafe { ring.submission().push(sqe) }.map_err(std::io::Error::other)?;
    ring.submit_and_wait(1)?;
    let cqe = ring
        .completion()
        .next()
        .ok_or_else(|| std::io::Error::other("no completion"))?;
    if cqe.result() < 0 {
        return Err(std::io::Error::from_raw_os_error(-cqe.result()));
    }
    Ok(cqe.result())
}
