//! Resource hogs (run them only under cgroup limits): fork bombs,
//! CPU, memory, fds, inotify instances.

use std::io::Error;

use crate::cstr;

/// Children that sleep `secs` then exit; returns whether fork worked.
pub fn fork_sleeper(secs: std::time::Duration) -> Result<(), Error> {
    // SAFETY: the child only sleeps and _exits (async-signal-safe calls).
    match unsafe { libc::fork() } {
        0 => unsafe {
            libc::sleep(secs.as_secs() as libc::c_uint);
            libc::_exit(0)
        },
        -1 => Err(Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Forks sleeping children as fast as it can for `secs` (a fork bomb whose
/// children end on their own; the cgroup's pids.max is the real bound).
pub fn forkbomb(secs: std::time::Duration) -> Result<(), Error> {
    let end = std::time::Instant::now() + secs;
    let (mut ok, mut failed) = (0u64, 0u64);
    while std::time::Instant::now() < end {
        match fork_sleeper(secs) {
            Ok(()) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    println!("forkbomb: {ok} forks, {failed} refused");
    Ok(())
}

/// Starts `n` children that sleep `secs`, then waits for them.
pub fn spawn(n: u32, secs: std::time::Duration) -> Result<(), Error> {
    let mut failed = 0;
    for _ in 0..n {
        if fork_sleeper(secs).is_err() {
            failed += 1;
        }
    }
    println!("spawn: {} started, {failed} refused", n - failed);
    // SAFETY: plain wait for our children.
    while unsafe { libc::wait(std::ptr::null_mut()) } > 0 {}
    Ok(())
}

/// Burns one CPU for `secs`.
pub fn cpu(secs: std::time::Duration) -> Result<(), Error> {
    let end = std::time::Instant::now() + secs;
    let mut x = 0u64;
    while std::time::Instant::now() < end {
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    println!("cpu: {x}");
    Ok(())
}

/// Allocates and touches `mib` MiB, one MiB at a time (under a memory
/// limit the OOM killer ends it first).
pub fn mem(mib: usize) -> Result<(), Error> {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        keep.push(vec![1u8; 1 << 20]);
    }
    println!("mem: {} MiB held", keep.len());
    Ok(())
}

/// Opens /dev/null until the fd limit, then keeps trying for `secs`
/// (a storm of EMFILE failures).
pub fn fds(secs: std::time::Duration) -> Result<(), Error> {
    let path = cstr("/dev/null");
    let end = std::time::Instant::now() + secs;
    let (mut open, mut emfile) = (0u64, 0u64);
    while std::time::Instant::now() < end {
        // SAFETY: open(2) of a valid C string; the fds are kept on purpose.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
        if fd >= 0 {
            open += 1;
        } else {
            emfile += 1;
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    println!("fds: {open} open, {emfile} refused");
    Ok(())
}

/// Holds `n` inotify instances (one watch each) for `secs`: the per-user
/// limit (`fs.inotify.max_user_instances`) bounds it.
pub fn inotify(n: u32, secs: std::time::Duration) -> Result<(), Error> {
    let mut fds = Vec::new();
    let mut err = None;
    for _ in 0..n {
        // SAFETY: no preconditions; fds are closed below.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if fd < 0 {
            err = Some(Error::last_os_error());
            break;
        }
        // SAFETY: our fd and a valid C string.
        unsafe { libc::inotify_add_watch(fd, c"/".as_ptr(), libc::IN_CREATE) };
        fds.push(fd);
    }
    std::thread::sleep(secs);
    for fd in fds {
        // SAFETY: our fds.
        unsafe { libc::close(fd) };
    }
    err.map_or(Ok(()), Err)
}
