//! Attaching the per-cgroup traffic counters: the `cgroup_skb` ingress and
//! egress programs on the cgroup v2 root this agent sees, as BPF links, so
//! other programs on the root (another agent, systemd's IP accounting)
//! keep running beside them. Without a cgroup v2 mount or when the kernel
//! refuses, the hooks are reported as refused and the network fields of the
//! resource rules stay unknown; nothing else depends on them.

use aya::programs::{CgroupAttachMode, CgroupSkb, CgroupSkbAttachType};
use aya::Ebpf;
use monitor_common::names::programs as P;

use super::attach::program;
use super::links::Links;
use super::loader::summarize;
use super::HookStatus;

/// Load `prog`; where the kernel refuses the egress program's current-task
/// helpers (Debian's 6.1), its variant that leaves DNS sockets' owners
/// unnamed: their DNS events then name the container, not the process.
fn load<'a>(ebpf: &'a mut Ebpf, prog: &str) -> Result<&'a mut CgroupSkb, String> {
    let refused = match program::<CgroupSkb>(ebpf, prog)?.load() {
        Ok(()) => None,
        Err(e) if prog == P::TRAFFIC_EGRESS => Some(summarize(&e)),
        Err(e) => return Err(summarize(&e)),
    };
    let Some(why) = refused else {
        return program::<CgroupSkb>(ebpf, prog);
    };
    log::info!(
        "{prog} refused ({why}); loading {} instead: DNS events name the \
         container but not the process on this kernel",
        P::TRAFFIC_EGRESS_ANON
    );
    let p = program::<CgroupSkb>(ebpf, P::TRAFFIC_EGRESS_ANON)?;
    p.load().map_err(|e| summarize(&e))?;
    Ok(p)
}

/// Attach both programs to the root of the cgroup v2 hierarchy.
pub(crate) fn attach(ebpf: &mut Ebpf, links: &mut Links, hooks: &mut Vec<HookStatus>) {
    let root = monitor_stateful::CgroupLayout::detect()
        .ok()
        .and_then(|l| l.v2().map(|m| m.mount_point.clone()));
    for (prog, dir) in [
        (P::TRAFFIC_INGRESS, CgroupSkbAttachType::Ingress),
        (P::TRAFFIC_EGRESS, CgroupSkbAttachType::Egress),
    ] {
        let attached = match &root {
            None => Err("no cgroup v2 mount: per-container traffic is not counted".to_owned()),
            Some(root) => std::fs::File::open(root)
                .map_err(|e| format!("opening {}: {e}", root.display()))
                .and_then(|cg| {
                    let p = load(ebpf, prog)?;
                    // A BPF link (kernel 5.7+, which aya uses there) is
                    // always one of many on its cgroup and the kernel
                    // refuses attach flags on it: `Single` passes none.
                    let id = p
                        .attach(&cg, dir, CgroupAttachMode::Single)
                        .map_err(|e| summarize(&e))?;
                    links.keep(p.take_link(id).map_err(|e| summarize(&e))?);
                    Ok(())
                }),
        };
        if let Err(e) = &attached {
            log::warn!(
                "per-container traffic counters unavailable ({prog}): {e}; \
                 container.net.* fields stay unknown"
            );
        }
        hooks.push(HookStatus {
            name: prog.to_owned(),
            kind: "cgroup_skb",
            attached,
        });
    }
}
