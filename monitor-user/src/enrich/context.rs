//! The context every event carries: its process (from the process table
//! and the record's header) and its container and cgroup (from the
//! container registry, the runtime metadata and who started it).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use monitor_common::records::Header;

use super::cgroup::CgroupInfo;
use super::container_cache::{Built, Inputs};
use super::proctable::ContainerKey;
use super::users::UserNames;
use super::Enricher;
use crate::event::text::{escape, escapes_to};
use crate::event::{cmdline, Cgroup, Container, ExecContext, Leader, Process};

impl Enricher {
    /// The container (with metadata) and cgroup of a cgroup id, as events
    /// of that cgroup carry them.
    pub fn container_of(&mut self, cgroup_id: u64, now: Instant) -> (Arc<Container>, Arc<Cgroup>) {
        let (c, g, _) = self.container(cgroup_id, 0, now);
        (c, g)
    }

    /// The container of `cgroup_id` as an event of its process `pid`
    /// carries it (0: no process): the one built for the cgroup's last
    /// event while what it is built from stays ([`super::container_cache`]).
    pub(super) fn container(&mut self, cgroup_id: u64, pid: u32, now: Instant) -> Built {
        let inputs = self.container_inputs(cgroup_id, pid, now);
        if let Some(built) = self.container_contexts.get(cgroup_id, &inputs) {
            return built;
        }
        let built = build_container(cgroup_id, &inputs);
        self.container_contexts
            .put(cgroup_id, inputs, built.clone());
        built
    }

    /// What the registry, the metadata sources and the creator tracker
    /// hold for `cgroup_id` now.
    fn container_inputs(&mut self, cgroup_id: u64, pid: u32, now: Instant) -> Inputs {
        let mut inputs = Inputs {
            entry: None,
            meta: None,
            unresolved: None,
            creator: None,
        };
        let Some(entry) = self.containers.resolve(cgroup_id, now) else {
            return inputs;
        };
        let (path, info) = (entry.path.clone(), entry.info.clone());
        if let Some(full) = info.container_id.as_deref() {
            match self.meta.resolve(info.runtime, full, now) {
                Ok(m) => inputs.meta = Some(m),
                Err(why) => inputs.unresolved = Some(why),
            }
            inputs.creator = Some(self.creators.get(full, pid));
        }
        inputs.entry = Some((path, info));
        inputs
    }

    /// A process known from the table seeded at start (no record yet):
    /// what a creator shows of it, its audit login uid and user name read
    /// from procfs at `proc_root`.
    pub(super) fn seeded_process(&mut self, proc_root: &Path, pid: u32, now: Instant) -> Process {
        let Some(entry) = self.procs.get(pid) else {
            return Process {
                pid,
                tid: pid,
                ..Process::default()
            };
        };
        let (ppid, uid) = (entry.ppid, entry.uid);
        let dir = proc_root.join(pid.to_string());
        let loginuid = std::fs::read_to_string(dir.join("loginuid"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let mnt = std::fs::metadata(dir.join("ns/mnt")).map_or(0, |m| m.ino() as u32);
        Process {
            pid,
            tid: pid,
            ppid,
            loginuid,
            uid,
            euid: uid,
            name: entry.name().clone(),
            start_boot_ns: entry.start_boot_ns,
            exec: Arc::new(ExecContext {
                exe: entry.exe.clone(),
                exepath: entry.exepath.clone(),
                args: entry.args.clone(),
                ..ExecContext::default()
            }),
            user_name: self
                .users
                .name(pid, ppid, mnt, uid, now, self.procs.container_peers(pid)),
            ..Process::default()
        }
    }

    /// The process of a record: the one built for the thread's last
    /// record while it holds ([`super::process_cache`]).
    pub(super) fn process_context(&mut self, h: &Header, now: Instant) -> Arc<Process> {
        let generation = self.procs.generation();
        if let Some(p) = self.process_contexts.get(h, generation, now) {
            return p;
        }
        let p = Arc::new(self.process(h, now));
        // A name not found (yet: a container's root not readable so
        // early) is asked again on the thread's next record, as ever.
        let named = |n: &Option<Arc<str>>, names: &UserNames| n.is_some() || !names.reads();
        if named(&p.user_name, &self.users) && named(&p.group_name, &self.groups) {
            self.process_contexts.put(h, generation, now, p.clone());
        }
        p
    }

    fn process(&mut self, h: &Header, now: Instant) -> Process {
        let peers = || self.procs.container_peers(h.tgid);
        let user_name = self
            .users
            .name(h.tgid, h.ppid, h.ns.mnt, h.uid, now, peers());
        let group_name = self
            .groups
            .name(h.tgid, h.ppid, h.ns.mnt, h.gid, now, peers());
        let entry = self.procs.get(h.tgid);
        let login_name = match entry.and_then(|p| p.loginuid) {
            // Never set (`AUDIT_UID_UNSET`): no login user.
            Some(uid) if uid != u32::MAX => {
                self.users.name(h.tgid, h.ppid, h.ns.mnt, uid, now, peers())
            }
            _ => None,
        };
        let generation = self.procs.generation();
        let exec = match self.exec_contexts.get(h.tgid, h.ppid, generation) {
            Some(exec) => exec,
            None => {
                let exec = Arc::new(self.exec_context(h));
                self.exec_contexts
                    .put(h.tgid, h.ppid, generation, exec.clone());
                exec
            }
        };
        Process {
            pid: h.tgid,
            tid: h.tid,
            ppid: h.ppid,
            vpid: entry.and_then(|p| p.vpid),
            session: entry.and_then(|p| p.session),
            loginuid: entry.and_then(|p| p.loginuid),
            uid: h.uid,
            gid: h.gid,
            euid: h.euid,
            egid: h.egid,
            name: match entry {
                // The entry holds this record's comm (`ProcTable::observe`):
                // its name is shared, not escaped again.
                Some(p) if escapes_to(h.comm(), &p.comm) => p.name().clone(),
                Some(p) => p.name_for(&escape(h.comm())).into(),
                None => escape(h.comm()).into(),
            },
            start_boot_ns: entry.and_then(|p| p.start_boot_ns),
            user_name,
            group_name,
            login_name,
            ns: h.ns.into(),
            exec,
        }
    }

    /// The exec context of the record's process, from the process table.
    fn exec_context(&self, h: &Header) -> ExecContext {
        let leader = |group| {
            self.procs.leader(h.tgid, group).map(|l| Leader {
                name: l.name().clone(),
                exe: l.exe.clone(),
                exepath: l.exepath.clone(),
            })
        };
        let entry = self.procs.get(h.tgid);
        let parent = self.procs.get(h.ppid);
        ExecContext {
            exe: entry.and_then(|p| p.exe.clone()),
            exepath: entry.and_then(|p| p.exepath.clone()),
            args: entry.map(|p| p.args.clone()).unwrap_or_default(),
            is_exe_upper_layer: entry.and_then(|p| p.is_exe_upper_layer),
            is_exe_lower_layer: entry.and_then(|p| p.is_exe_lower_layer),
            is_exe_writable: entry.and_then(|p| p.is_exe_writable),
            is_exe_from_memfd: entry.and_then(|p| p.is_exe_from_memfd),
            pname: parent.map(|p| p.name().clone()),
            pexe: parent.and_then(|p| p.exe.clone()),
            pexepath: parent.and_then(|p| p.exepath.clone()),
            pcmdline: parent.map(|p| cmdline(p.name(), &p.args)),
            ancestors: self.procs.ancestry(h.tgid),
            cap_effective: entry.and_then(|p| p.caps).map(|c| c.0),
            cap_permitted: entry.and_then(|p| p.caps).map(|c| c.1),
            cwd: entry.and_then(|p| p.cwd.clone()),
            stdin: entry.and_then(|p| p.stdin.clone()),
            stdout: entry.and_then(|p| p.stdout.clone()),
            env: entry.and_then(|p| p.env.clone()),
            sid_leader: leader(false),
            vpgid_leader: leader(true),
        }
    }
}

/// The context events of `cgroup_id` carry, from what is known of it.
fn build_container(cgroup_id: u64, inputs: &Inputs) -> Built {
    let Some((path, info)) = &inputs.entry else {
        let cgroup = Cgroup {
            id: cgroup_id,
            path: None,
        };
        return (Arc::default(), Arc::new(cgroup), None);
    };
    let cgroup = Arc::new(Cgroup {
        id: cgroup_id,
        path: Some(path.to_string()),
    });
    let key = container_key(info);
    let Some(full) = info.container_id.clone() else {
        let c = Container {
            pod_uid: info.pod_uid.clone(),
            qos: info.qos,
            ..Container::default()
        };
        return (Arc::new(c), cgroup, key);
    };
    let meta = inputs.meta.clone();
    let container = Container {
        id: full[..12].to_owned(),
        full_id: Some(full),
        runtime: info.runtime,
        name: meta.as_ref().and_then(|m| m.name.clone()),
        image: meta.as_ref().and_then(|m| m.image.clone()),
        // The runtime knows the pod even where the cgroup path does not say.
        pod_uid: info.pod_uid.clone().or_else(|| {
            let uid = &meta.as_ref()?.pod.as_ref()?.uid;
            (!uid.is_empty()).then(|| uid.clone())
        }),
        qos: info.qos,
        meta,
        unresolved: inputs.unresolved.clone(),
        creator: inputs.creator.clone(),
    };
    (Arc::new(container), cgroup, key)
}

pub(super) fn container_key(info: &CgroupInfo) -> ContainerKey {
    info.container_id.as_deref().map(Arc::from)
}
