//! What the rules that ask for an action arm in the kernel
//! (docs/enforcement.md). The kernel cannot run Falco conditions: a rule's
//! `action: deny` arms the narrow checks the kernel can make for it, always
//! limited to tasks in container cgroups: write-opens of its `enforce_write`
//! file names, and module loads when the rule is about `init_module` or
//! `finit_module`; `action: kill` kills the process that opens one of its
//! `enforce_write` names for writing (in either hook mode). The rule still
//! decides the alert; the alert says what the kernel did
//! (`evt.arg.enforcement`).

use monitor_rules::{Action, RuleSet};

use crate::sensor::{EnforceConfig, EnforceMode};

/// The syscalls whose rules' `deny` refuses module loads.
const MODULE_LOADS: &[&str] = &["init_module", "finit_module"];
/// The syscalls whose rules' `deny` refuses signals to the agent
/// (self-protection; the rule's condition names the agent as the target).
const SIGNALS: &[&str] = &["kill", "tkill", "tgkill"];

/// The kernel policy of `rules` under `mode`, and a line for each enabled
/// rule whose action cannot be carried out (logged at start).
pub fn kernel_policy(rules: &RuleSet, mode: EnforceMode) -> (EnforceConfig, Vec<String>) {
    let mut cfg = EnforceConfig {
        mode,
        ..Default::default()
    };
    let mut notes = Vec::new();
    for r in rules.rules().iter().filter(|r| r.enabled()) {
        let Some(e) = r.enforce() else { continue };
        match e.action {
            Action::Kill => {
                for n in &e.enforce_write {
                    if !cfg.kill_write_names.contains(n) {
                        cfg.kill_write_names.push(n.clone());
                    }
                }
                if e.enforce_write.is_empty() {
                    notes.push(format!(
                        "rule '{}': action kill arms no kernel check (needs enforce_write); it only alerts",
                        r.name()
                    ));
                }
            }
            Action::Deny => {
                let modules = r
                    .evt_types()
                    .is_some_and(|mut t| t.any(|t| MODULE_LOADS.contains(&t)));
                cfg.deny_modules |= modules;
                let signals = r
                    .evt_types()
                    .is_some_and(|mut t| t.any(|t| SIGNALS.contains(&t)));
                cfg.deny_signals |= signals;
                for n in &e.enforce_write {
                    if !cfg.deny_write_names.contains(n) {
                        cfg.deny_write_names.push(n.clone());
                    }
                }
                if !modules && !signals && e.enforce_write.is_empty() {
                    notes.push(format!(
                        "rule '{}': action deny arms no kernel check (needs enforce_write or a module-load rule); it only alerts",
                        r.name()
                    ));
                }
            }
        }
    }
    (cfg, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor_rules::{LoadOptions, RuleSource};

    fn load(text: &str) -> RuleSet {
        RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default())
            .unwrap()
            .0
    }

    #[test]
    fn deny_rules_arm_their_names_and_module_loads() {
        let set = load(
            "- rule: w\n  desc: d\n  condition: evt.type = openat and fd.filename = release_agent\n  output: o\n  priority: INFO\n  action: deny\n  enforce_write: [release_agent, core_pattern]\n\
             - rule: m\n  desc: d\n  condition: evt.type in (init_module, finit_module)\n  output: o\n  priority: INFO\n  action: deny\n\
             - rule: off\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: INFO\n  enabled: false\n  action: deny\n  enforce_write: [shadow]\n\
             - rule: k\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: INFO\n  action: kill\n\
             - rule: k2\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: INFO\n  action: kill\n  enforce_write: [trap]\n\
             - rule: plain\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: INFO\n",
        );
        let (cfg, notes) = kernel_policy(&set, EnforceMode::On);
        assert_eq!(cfg.deny_write_names, ["release_agent", "core_pattern"]);
        assert!(cfg.deny_modules);
        assert_eq!(cfg.kill_write_names, ["trap"]);
        assert!(cfg.armed());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("'k'"), "{notes:?}");
        // Off: nothing is armed, whatever the rules ask.
        let (cfg, _) = kernel_policy(&set, EnforceMode::Off);
        assert!(!cfg.armed());
    }

    #[test]
    fn the_default_rules_mark_what_is_safe_to_enforce() {
        let sources = crate::detect::default_sources();
        let set = RuleSet::load(&sources, &LoadOptions::default()).unwrap().0;
        let (cfg, notes) = kernel_policy(&set, EnforceMode::On);
        assert!(notes.is_empty(), "{notes:?}");
        for n in ["release_agent", "core_pattern"] {
            assert!(cfg.deny_write_names.iter().any(|x| x == n), "{cfg:?}");
        }
        assert!(cfg.deny_modules, "{cfg:?}");
        assert!(cfg.deny_signals, "{cfg:?}");
    }
}
