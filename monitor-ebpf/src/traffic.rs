//! Per-cgroup network traffic: packets and bytes in and out, counted into
//! `CGROUP_COUNTERS` by two `cgroup_skb` programs the agent attaches to the
//! cgroup v2 root (so every socket of every cgroup below passes through
//! them). They never look into a packet and always let it pass: one per-CPU
//! hash update per packet is all an established flow pays.
//!
//! Both also pass each packet to `dns.rs`, which keeps the DNS messages
//! among them (port 53) for the agent.
//!
//! The key is the cgroup of the packet's socket (`bpf_skb_cgroup_id`), not
//! of the task on the CPU: ingress runs in softirq context, on behalf of
//! whoever was interrupted.

use aya_ebpf::{
    helpers::generated::bpf_skb_cgroup_id, macros::cgroup_skb, programs::SkBuffContext, EbpfContext,
};

use crate::counters::count_in;
use crate::dns;

/// `cgroup_skb` verdict: let the packet through.
const PASS: i32 = 1;

#[inline(always)]
fn cgroup_of(ctx: &SkBuffContext) -> u64 {
    // SAFETY: the program's own context pointer.
    unsafe { bpf_skb_cgroup_id(ctx.as_ptr() as *mut _) }
}

#[cgroup_skb(ingress)]
pub fn traffic_ingress(ctx: SkBuffContext) -> i32 {
    let len = u64::from(ctx.len());
    let cgroup = cgroup_of(&ctx);
    count_in(cgroup, |c| {
        c.net_rx_packets += 1;
        c.net_rx_bytes += len;
    });
    dns::on_packet(&ctx, cgroup, false, false);
    PASS
}

#[cgroup_skb(egress)]
pub fn traffic_egress(ctx: SkBuffContext) -> i32 {
    egress(&ctx, true)
}

/// `traffic_egress` without naming the task that sends a socket's first
/// DNS packet: older kernels (Debian's 6.1) refuse the current-task
/// helpers in `cgroup_skb` programs, and the agent loads this one there.
#[cgroup_skb(egress)]
pub fn traffic_egress_anon(ctx: SkBuffContext) -> i32 {
    egress(&ctx, false)
}

#[inline(always)]
fn egress(ctx: &SkBuffContext, name_task: bool) -> i32 {
    let len = u64::from(ctx.len());
    let cgroup = cgroup_of(ctx);
    count_in(cgroup, |c| {
        c.net_tx_packets += 1;
        c.net_tx_bytes += len;
    });
    dns::on_packet(ctx, cgroup, true, name_task);
    PASS
}
