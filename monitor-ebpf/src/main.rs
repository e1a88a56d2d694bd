//! vigil's eBPF programs. One module per hook family; each program is a thin
//! wrapper around a shared body so that the hooks stay small.
//!
//! No kernel struct layout is compiled in: every offset comes from the
//! global `OFFSETS`, which the agent resolves from the running kernel's BTF
//! and sets before load (see `globals`).
#![no_std]
#![no_main]

mod attempts;
mod bench;
mod cgroup;
mod counters;
mod dentry_path;
mod dns;
mod enforce;
mod exe_path;
mod exec_context;
mod flood;
mod globals;
mod header;
mod io_uring;
mod kread;
mod lsm;
mod maps;
mod module;
mod net;
mod oom;
mod open_filter;
mod open_path;
mod probe_only;
mod process;
mod store;
mod syscall_record;
mod syscalls;
mod traffic;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
