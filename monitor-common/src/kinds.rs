//! Stable event ids (syscall ids: [`crate::syscalls`]).
//!
//! Ids are grouped by source (1xx process lifecycle, 2xx syscalls, 3xx other
//! kernel sources). Never renumber: retired ids stay holes so that recorded
//! logs keep their meaning.

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $name:ident = $id:literal => $str:literal,)*) => {
        /// What a ring-buffer record is. Stored in [`crate::Header::kind`].
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind { $($(#[$doc])* $name = $id,)* }

        /// Number of drop-counter slots ([`EventKind::slot`]).
        pub const NUM_KIND_SLOTS: u32 = EventKind::ALL.len() as u32;

        impl EventKind {
            /// Every kind, in drop-counter slot order.
            pub const ALL: [EventKind; [$($id),*].len()] = [$(EventKind::$name,)*];

            pub const fn from_u16(v: u16) -> Option<EventKind> {
                match v { $($id => Some(EventKind::$name),)* _ => None }
            }

            /// The kind's name in stats and drop counters.
            pub const fn name(self) -> &'static str {
                match self { $(EventKind::$name => $str,)* }
            }

            /// Dense index into the `DROPS` per-CPU array: the position in
            /// [`EventKind::ALL`].
            #[inline(always)]
            pub const fn slot(self) -> u32 {
                let mut i = 0;
                while i < Self::ALL.len() {
                    if Self::ALL[i] as u16 == self as u16 {
                        return i as u32;
                    }
                    i += 1;
                }
                0
            }
        }
    };
}

// The one table of event kinds. New kinds go at the end (slots are dense
// and follow this order).
event_kinds! {
    Exec = 100 => "execve",
    Fork = 101 => "clone",
    Exit = 102 => "procexit",
    /// Any hooked syscall; [`crate::SyscallRecord::syscall`] says which.
    Syscall = 200 => "syscall",
    ModuleLoad = 300 => "module_load",
    CgroupMkdir = 301 => "cgroup_mkdir",
    CgroupRmdir = 302 => "cgroup_rmdir",
    OomKill = 303 => "oom_kill",
    /// A DNS message a process sent to or received from port 53
    /// ([`crate::DnsRecord`]).
    Dns = 304 => "dns",
    // flood: a cgroup's syscall records over its rate (docs/performance.md).
    /// Syscall records of one cgroup the kernel held back over its rate.
    Throttled = 305 => "throttled",
}
