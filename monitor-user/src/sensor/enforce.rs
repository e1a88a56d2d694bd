//! Enforcement's sensor side: what the operator turned on, how it arms the
//! kernel (globals and `filter::when::DENY_WRITE` open-filter names), and
//! the map of container cgroups the kernel enforces on
//! ([`ContainerCgroups`], kept in sync by the enricher's container
//! registry). The policy itself is `monitor_common::enforce`; the rules that
//! ask for it and the docs are in docs/enforcement.md.

use std::sync::{Arc, Mutex};

use aya::maps::{HashMap, MapData};
use monitor_common::enforce::mode;
use monitor_common::names;

use super::SensorError;

/// `--enforce`: off (the default), dry-run or on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EnforceMode {
    /// Rules' actions are ignored; nothing is refused.
    #[default]
    Off,
    /// Nothing is refused; events that would have been are flagged.
    DryRun,
    /// The armed checks refuse (LSM mode) with `-EPERM`.
    On,
}

impl EnforceMode {
    /// The kernel's `monitor_common::enforce::mode` value.
    pub fn kernel_value(self) -> u32 {
        match self {
            EnforceMode::Off => mode::OFF,
            EnforceMode::DryRun => mode::DRY_RUN,
            EnforceMode::On => mode::DENY,
        }
    }

    /// `off`, `dry-run` or `on`, as the flag and config spell it.
    pub fn name(self) -> &'static str {
        match self {
            EnforceMode::Off => "off",
            EnforceMode::DryRun => "dry-run",
            EnforceMode::On => "on",
        }
    }

    /// Parses the flag's or the config key's value.
    pub fn parse(s: &str) -> Option<EnforceMode> {
        match s {
            "off" => Some(EnforceMode::Off),
            "dry-run" => Some(EnforceMode::DryRun),
            "on" => Some(EnforceMode::On),
            _ => None,
        }
    }
}

/// What the kernel refuses, derived from the rules that ask for `deny`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnforceConfig {
    pub mode: EnforceMode,
    /// Final path components whose opening for writing is refused.
    pub deny_write_names: Vec<String>,
    /// Refuse kernel module loads.
    pub deny_modules: bool,
    /// Final path components whose opening for writing kills the process.
    pub kill_write_names: Vec<String>,
    /// Refuse signals from containers to the agent (LSM mode).
    pub deny_signals: bool,
    /// Refuse exec of a memfd from containers (LSM mode).
    pub deny_memfd_exec: bool,
    /// Refuse ptrace of the agent from containers (LSM mode).
    pub deny_ptrace: bool,
    /// Refuse `bpf(BPF_PROG_LOAD)` from containers (LSM mode).
    pub deny_bpf_prog_load: bool,
}

impl EnforceConfig {
    /// `filter` plus the file names this configuration refuses or kills
    /// for (tagged for the kernel), when enforcement is on: the open
    /// filter carries them, at load and after every rule reload.
    pub fn arm(&self, filter: &super::OpenFilter) -> super::OpenFilter {
        let mut f = filter.clone();
        if self.mode != EnforceMode::Off {
            use monitor_common::filter::when;
            for n in &self.deny_write_names {
                f.names.push((n.clone(), when::DENY_WRITE));
            }
            for n in &self.kill_write_names {
                f.names.push((n.clone(), when::KILL_WRITE));
            }
        }
        f
    }

    /// Is anything armed?
    pub fn armed(&self) -> bool {
        self.mode != EnforceMode::Off
            && (self.deny_modules
                || self.deny_signals
                || self.deny_memfd_exec
                || self.deny_ptrace
                || self.deny_bpf_prog_load
                || !self.deny_write_names.is_empty()
                || !self.kill_write_names.is_empty())
    }
}

/// The kernel's set of container cgroup ids (enforcement applies to tasks
/// in these cgroups only). Cheap to clone; shared with the enricher.
#[derive(Clone)]
pub struct ContainerCgroups(Arc<Mutex<HashMap<MapData, u64, u8>>>);

impl ContainerCgroups {
    pub(crate) fn new(map: HashMap<MapData, u64, u8>) -> ContainerCgroups {
        ContainerCgroups(Arc::new(Mutex::new(map)))
    }

    /// A container cgroup appeared (or was found at start).
    pub fn insert(&self, cgroup_id: u64) -> Result<(), SensorError> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(cgroup_id, 1, 0)
            .map_err(|e| super::loader::map_err(names::CONTAINER_CGROUPS, e))
    }

    /// A container cgroup was removed. Unknown ids are not an error.
    pub fn remove(&self, cgroup_id: u64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = m.remove(&cgroup_id);
    }

    /// The ids in the kernel map (tests, diagnostics).
    pub fn ids(&self) -> Vec<u64> {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.keys().filter_map(Result::ok).collect()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn armed_names_join_any_filter_and_only_when_enforcing() {
        use monitor_common::filter::when;
        let base = crate::sensor::OpenFilter {
            prefixes: vec![("/srv/".into(), when::ANY)],
            names: vec![],
        };
        let mut cfg = EnforceConfig {
            mode: EnforceMode::Off,
            deny_write_names: vec!["release_agent".into()],
            kill_write_names: vec!["core_pattern".into()],
            ..Default::default()
        };
        assert_eq!(cfg.arm(&base), base);
        cfg.mode = EnforceMode::DryRun;
        let armed = cfg.arm(&base);
        assert_eq!(armed.prefixes, base.prefixes);
        assert_eq!(
            armed.names,
            [
                ("release_agent".to_owned(), when::DENY_WRITE),
                ("core_pattern".to_owned(), when::KILL_WRITE)
            ]
        );
    }
    use super::*;

    #[test]
    fn modes_round_trip_and_map_to_the_kernel_values() {
        for m in [EnforceMode::Off, EnforceMode::DryRun, EnforceMode::On] {
            assert_eq!(EnforceMode::parse(m.name()), Some(m));
        }
        assert_eq!(EnforceMode::parse("deny"), None);
        assert_eq!(EnforceMode::On.kernel_value(), mode::DENY);
        assert_eq!(EnforceMode::default(), EnforceMode::Off);
    }

    #[test]
    fn nothing_is_armed_when_off_or_when_no_rule_asks() {
        let mut c = EnforceConfig {
            mode: EnforceMode::Off,
            deny_write_names: vec!["release_agent".into()],
            deny_modules: true,
            kill_write_names: Vec::new(),
            ..Default::default()
        };
        assert!(!c.armed());
        c.mode = EnforceMode::On;
        assert!(c.armed());
        c.deny_write_names.clear();
        c.deny_modules = false;
        assert!(!c.armed());
        c.kill_write_names.push("x".into());
        assert!(c.armed());
    }
}
