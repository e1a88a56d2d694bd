//! The container contexts the enricher built last, so that the events of
//! one container share one instead of each building its own.
//!
//! A container context (the container with its metadata and creator, the
//! cgroup, the key that cuts ancestries) is a function of what the cgroup
//! registry, the metadata sources and the creator tracker hold for the
//! cgroup. Each hands out shared values (`Arc`s) and makes new ones when
//! what it knows changes (a rescan, a runtime's answer, a creator named),
//! so a context built from the very same values is still right. A miss
//! only costs the build it would have cost.

use std::sync::Arc;

use super::cgroup::CgroupInfo;
use super::proctable::ContainerKey;
use super::recent::Recent;
use crate::event::container::{ContainerMeta, Creator, Unresolved};
use crate::event::{Cgroup, Container};

/// What a context is built from. `Arc`s compare by identity.
#[derive(Clone)]
pub struct Inputs {
    /// The registry's entry (path, parsed info); `None`: an unknown cgroup.
    pub entry: Option<(Arc<str>, Arc<CgroupInfo>)>,
    pub meta: Option<Arc<ContainerMeta>>,
    pub unresolved: Option<Unresolved>,
    pub creator: Option<Arc<Creator>>,
}

impl Inputs {
    fn same(&self, other: &Inputs) -> bool {
        fn same_arc<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
        }
        let entries = match (&self.entry, &other.entry) {
            (Some((p, i)), Some((q, j))) => Arc::ptr_eq(p, q) && Arc::ptr_eq(i, j),
            (None, None) => true,
            _ => false,
        };
        entries
            && same_arc(&self.meta, &other.meta)
            && self.unresolved == other.unresolved
            && same_arc(&self.creator, &other.creator)
    }
}

/// A built context: what events of the cgroup carry.
pub type Built = (Arc<Container>, Arc<Cgroup>, ContainerKey);

struct Slot {
    cgroup_id: u64,
    inputs: Inputs,
    built: Built,
}

/// By cgroup id, 64 slots: the cgroups busy at once.
#[derive(Default)]
pub struct ContainerContexts {
    slots: Recent<Slot, 64>,
}

impl ContainerContexts {
    /// The context of `cgroup_id` if it was built from `inputs`.
    pub fn get(&self, cgroup_id: u64, inputs: &Inputs) -> Option<Built> {
        self.slots
            .get(cgroup_id, |s| {
                s.cgroup_id == cgroup_id && s.inputs.same(inputs)
            })
            .map(|s| s.built.clone())
    }

    /// Remembers the context of `cgroup_id` built from `inputs`.
    pub fn put(&mut self, cgroup_id: u64, inputs: Inputs, built: Built) {
        let slot = Slot {
            cgroup_id,
            inputs,
            built,
        };
        self.slots.put(cgroup_id, slot);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::super::tests::{cgroup_rec, syscall, with_state, CID};
    use crate::enrich::metadata::MetadataConfig;
    use crate::event::Clock;
    use crate::testutil::TempDir;
    use monitor_common::SyscallId;

    /// A container's events share one context while nothing about it
    /// changes, and get a new one as soon as something does: here Docker
    /// writes the container's config after its first events, then the
    /// cgroup goes.
    #[test]
    fn events_share_the_container_context_until_what_it_says_changes() {
        let dir = TempDir::new("container-cache");
        let mut e = with_state(
            Clock::with_offset(0),
            MetadataConfig {
                podman_roots: vec![],
                docker_root: Some(dir.path().to_owned()),
                negative_ttl: Duration::ZERO,
                ..Default::default()
            },
        );
        let now = Instant::now();
        e.enrich(&cgroup_rec(true, 901, &format!("/docker/{CID}"), 1), now);
        let args = [libc::AT_FDCWD as u64, 0, 0, 0, 0, 0];
        let open = |pid| syscall(pid, 901, 2, SyscallId::Openat, 3, args, b"/etc/x", b"", b"");
        let a = e.enrich(&open(70), now);
        let b = e.enrich(&open(71), now);
        assert_eq!(a.container.id, &CID[..12]);
        assert_eq!(a.container.name, None);
        assert!(Arc::ptr_eq(&a.container, &b.container));
        assert!(Arc::ptr_eq(&a.cgroup, &b.cgroup));

        let config = dir.path().join("containers").join(CID);
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config.v2.json"),
            r#"{"Name":"/web","Config":{"Image":"nginx:1.25"},"State":{"Running":true}}"#,
        )
        .unwrap();
        let c = e.enrich(&open(70), now);
        let d = e.enrich(&open(72), now);
        assert_eq!(c.container.name.as_deref(), Some("web"));
        assert!(!Arc::ptr_eq(&a.container, &c.container));
        assert!(Arc::ptr_eq(&c.container, &d.container));

        e.enrich(&cgroup_rec(false, 901, &format!("/docker/{CID}"), 3), now);
        e.maintain(now + Duration::from_secs(10), 10_000);
        let gone = e.enrich(&open(70), now + Duration::from_secs(10));
        assert_eq!(gone.container.id, "host");
    }
}
