//! DNS messages where the packets pass: the `cgroup_skb` programs of
//! `traffic.rs` hand every packet to [`on_packet`], which keeps those a
//! socket sends to port 53 (queries) and receives from port 53 (answers),
//! UDP and TCP, as [`DnsRecord`]s the agent parses. Whatever sent them
//! (sendto, sendmmsg, write on a connected socket as Go's and musl's
//! resolvers do, io_uring) and however they are read, every message passes
//! here once; no syscall is hooked for DNS.
//!
//! A packet that is not to or from port 53 costs a few header loads. The
//! first packet a socket sends to port 53 (a UDP query, a TCP SYN) leaves
//! in the sending task's context: that task becomes the socket's owner in
//! `DNS_OWNERS` (by socket cookie), and every later message of the socket,
//! answers included (which arrive in softirq context, on behalf of whoever
//! was interrupted), is reported as that task's. The owner's process is
//! what the header names; its namespaces and parent are left unknown.
//!
//! Over TCP each message has a 2-byte length prefix: a segment that starts
//! a message is reported without it, and the owner entry counts the bytes
//! still due for the message, so its continuation segments are skipped.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid,
        generated::{
            bpf_get_current_uid_gid, bpf_get_socket_cookie, bpf_ktime_get_boot_ns,
            bpf_skb_load_bytes,
        },
    },
    macros::map,
    maps::LruHashMap,
    programs::SkBuffContext,
    EbpfContext,
};
use core::ffi::c_void;
use core::mem::size_of;
use monitor_common::{
    dns_direction, DnsRecord, EventKind, Header, SockTuple, DNS_PAYLOAD_LEN, RECORD_VERSION,
};

use crate::counters::count_in;
use crate::maps::{lazy_wake, DROPS, EVENTS};

const DNS_PORT: u16 = 53;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const SOCK_STREAM: u16 = 1;
const SOCK_DGRAM: u16 = 2;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const BPF_NOEXIST: u64 = 1;

/// The task that owns a DNS socket, and its TCP reassembly state.
#[repr(C)]
struct Owner {
    pid_tgid: u64,
    uid_gid: u64,
    comm: [u8; 16],
    /// TCP: bytes of the current message still to come, per direction
    /// ([`dns_direction`]); a segment while they are due is not a message
    /// start.
    tcp_due: [u32; 2],
}

/// Socket cookie → the owner of a socket that sent to port 53.
#[map]
static DNS_OWNERS: LruHashMap<u64, Owner> = LruHashMap::with_max_entries(4096, 0);

/// Where a packet's layers start and what it carries.
struct Packet {
    family: u16,
    proto: u8,
    /// Offset of the TCP/UDP header.
    l4: u32,
    src: [u8; 16],
    dst: [u8; 16],
    sport: u16,
    dport: u16,
}

/// The IPv4/IPv6 and TCP/UDP headers of the packet (which starts at its
/// network header in `cgroup_skb` programs), `None` for anything else and
/// for non-first IPv4 fragments.
#[inline(always)]
fn headers(ctx: &SkBuffContext) -> Option<Packet> {
    let v: u8 = ctx.load(0).ok()?;
    let mut p = Packet {
        family: 0,
        proto: 0,
        l4: 0,
        src: [0; 16],
        dst: [0; 16],
        sport: 0,
        dport: 0,
    };
    match v >> 4 {
        4 => {
            let h: [u8; 20] = ctx.load(0).ok()?;
            // Fragment offset (13 bits): only the first carries the ports.
            if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
                return None;
            }
            p.family = AF_INET;
            p.proto = h[9];
            p.l4 = u32::from(v & 0x0f) * 4;
            p.src[..4].copy_from_slice(&h[12..16]);
            p.dst[..4].copy_from_slice(&h[16..20]);
        }
        6 => {
            // Extension headers before TCP/UDP are not followed.
            p.family = AF_INET6;
            p.proto = ctx.load(6).ok()?;
            p.l4 = 40;
            p.src = ctx.load(8).ok()?;
            p.dst = ctx.load(24).ok()?;
        }
        _ => return None,
    }
    if p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP {
        return None;
    }
    let ports: [u8; 4] = ctx.load(p.l4 as usize).ok()?;
    p.sport = u16::from_be_bytes([ports[0], ports[1]]);
    p.dport = u16::from_be_bytes([ports[2], ports[3]]);
    Some(p)
}

/// A packet leaving (`egress`) or arriving at a socket of cgroup `cgroup`;
/// `name_task`: a socket's first packet to port 53 makes the current task
/// its owner (where the kernel allows the current-task helpers here).
#[inline(always)]
pub fn on_packet(ctx: &SkBuffContext, cgroup: u64, egress: bool, name_task: bool) {
    let Some(p) = headers(ctx) else {
        return;
    };
    let direction = if egress && p.dport == DNS_PORT {
        dns_direction::SENT
    } else if !egress && p.sport == DNS_PORT {
        dns_direction::RECEIVED
    } else {
        return;
    };
    let payload = if p.proto == IPPROTO_UDP {
        p.l4 + 8
    } else {
        let Ok(doff) = ctx.load::<u8>(p.l4 as usize + 12) else {
            return;
        };
        p.l4 + u32::from(doff >> 4) * 4
    };
    // SAFETY: the program's own context pointer.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    if egress && name_task {
        adopt(cookie);
    }
    let len = ctx.len();
    if len <= payload {
        return;
    }
    let mut start = payload;
    let mut msg_len = len - payload;
    let owner = DNS_OWNERS.get_ptr_mut(&cookie);
    if p.proto == IPPROTO_TCP {
        // SAFETY: a live map value, this socket's; a concurrent update at
        // worst misplaces one TCP message boundary.
        let due = owner.map(|o| unsafe { &mut (*o).tcp_due[usize::from(direction & 1)] });
        match tcp_message(ctx, start, msg_len, due) {
            Some(n) => {
                start += 2;
                msg_len = n;
            }
            None => return,
        }
    }
    emit(ctx, &p, cgroup, owner, direction, start, msg_len);
}

/// Remember the current task as the owner of the socket `cookie` unless
/// the socket has one: its first packet to port 53 (a datagram's send, a
/// TCP connect's SYN) leaves in the context of the task that sent it.
#[inline(always)]
fn adopt(cookie: u64) {
    // SAFETY: helper without arguments.
    let uid_gid = unsafe { bpf_get_current_uid_gid() };
    let o = Owner {
        pid_tgid: bpf_get_current_pid_tgid(),
        uid_gid,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
        tcp_due: [0; 2],
    };
    let _ = DNS_OWNERS.insert(&cookie, &o, BPF_NOEXIST);
}

/// A TCP segment's DNS message: `Some(its length)` (the prefix says, or
/// what the segment holds of it) when the `seg_len` bytes at `start` begin
/// with a message's 2-byte length prefix, `None` for a continuation of an
/// earlier message (counted off `due`) or a lone prefix.
#[inline(always)]
fn tcp_message(
    ctx: &SkBuffContext,
    start: u32,
    seg_len: u32,
    due: Option<&mut u32>,
) -> Option<u32> {
    let mut untracked = 0u32;
    let due = due.unwrap_or(&mut untracked);
    if *due > 0 {
        *due = due.saturating_sub(seg_len);
        return None;
    }
    if seg_len <= 2 {
        return None;
    }
    let prefix: [u8; 2] = ctx.load(start as usize).ok()?;
    let msg = u32::from(u16::from_be_bytes(prefix));
    let here = seg_len - 2;
    *due = msg.saturating_sub(here);
    Some(msg.min(here))
}

/// Send one record with up to [`DNS_PAYLOAD_LEN`] bytes of the `len`
/// bytes at packet offset `start`.
#[inline(always)]
fn emit(
    ctx: &SkBuffContext,
    p: &Packet,
    cgroup: u64,
    owner: Option<*mut Owner>,
    direction: u16,
    start: u32,
    len: u32,
) {
    let Some(mut entry) = EVENTS.reserve::<DnsRecord>(0) else {
        if let Some(d) = DROPS.get_ptr_mut(EventKind::Dns.slot()) {
            // SAFETY: per-CPU slot, no concurrent writer on this CPU.
            unsafe { *d += 1 };
        }
        count_in(cgroup, |c| c.dropped += 1);
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: whole-record reservation; the copy is at most the payload's
    // size; `owner` points at a live map value.
    unsafe {
        fill_header(&raw mut (*rec).header, cgroup, owner);
        let (local, remote, lport, rport) = if direction == dns_direction::SENT {
            (p.src, p.dst, p.sport, p.dport)
        } else {
            (p.dst, p.src, p.dport, p.sport)
        };
        (*rec).tuple = SockTuple {
            family: p.family,
            sock_type: if p.proto == IPPROTO_TCP {
                SOCK_STREAM
            } else {
                SOCK_DGRAM
            },
            protocol: u16::from(p.proto),
            local_port: lport,
            remote_port: rport,
            _pad: [0; 3],
            local,
            remote,
        };
        (*rec).direction = direction;
        (*rec).truncated = u16::from(len > DNS_PAYLOAD_LEN as u32);
        (*rec)._pad = 0;
        (*rec).len = len.min(DNS_PAYLOAD_LEN as u32) as u16;
        // 1..=512 for the verifier, from a fresh load right before the
        // copy (a bound the compiler proves redundant is dropped).
        let n = core::ptr::read_volatile(&raw const (*rec).len) as u32;
        let n = (n.wrapping_sub(1) & (DNS_PAYLOAD_LEN as u32 - 1)) + 1;
        let ok = bpf_skb_load_bytes(
            ctx.as_ptr(),
            start,
            (*rec).payload.as_mut_ptr() as *mut c_void,
            n,
        ) == 0;
        if !ok {
            entry.discard(0);
            return;
        }
        (*rec).len = n as u16;
    }
    entry.submit(lazy_wake());
}

/// The header of a packet's record: the socket's cgroup and owner (all
/// zero when the owner is unknown: the socket sent nothing to port 53
/// since the agent started).
#[inline(always)]
fn fill_header(h: *mut Header, cgroup: u64, owner: Option<*mut Owner>) {
    // SAFETY: `h` is inside a whole-record reservation; `owner` points at
    // a live map value.
    let h = unsafe { &mut *h };
    h.kind = EventKind::Dns as u16;
    h.version = RECORD_VERSION;
    h.size = size_of::<DnsRecord>() as u32;
    // SAFETY: helper without arguments.
    h.boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    h.cgroup_id = cgroup;
    let (pid_tgid, uid_gid, comm) = match owner {
        // SAFETY: see above.
        Some(o) => unsafe { ((*o).pid_tgid, (*o).uid_gid, (*o).comm) },
        None => (0, u64::MAX, [0; 16]),
    };
    h.tgid = (pid_tgid >> 32) as u32;
    h.tid = pid_tgid as u32;
    h.ppid = 0;
    h.uid = uid_gid as u32;
    h.gid = (uid_gid >> 32) as u32;
    h.euid = h.uid;
    h.egid = h.gid;
    h._pad = 0;
    h.comm = comm;
    h.ns = Default::default();
}
