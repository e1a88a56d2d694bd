//! What the rules that ask for an action arm in the kernel
//! (docs/enforcement.md). The kernel cannot run Falco conditions: a rule's
//! `action: deny` arms the narrow checks the kernel can make for it, always
//! limited to tasks in container cgroups: write-opens of its `enforce_write`
//! file names, module loads when the rule is about `init_module` or
//! `finit_module`, exec of a memfd when it is about `execve`/`execveat` and
//! reads `proc.is_exe_from_memfd`, signals and ptrace aimed at the agent
//! when it is about those, `bpf(BPF_PROG_LOAD)` when it is about `bpf` and
//! requires `evt.arg.cmd = BPF_PROG_LOAD`; `action: kill` kills the process that opens one of its
//! `enforce_write` names for writing (in either hook mode). The rule still
//! decides the alert; the alert says what the kernel did
//! (`evt.arg.enforcement`).

use monitor_rules::{Action, FieldId, RuleSet};

use crate::sensor::{EnforceConfig, EnforceMode};

/// The syscalls whose rules' `deny` refuses module loads.
const MODULE_LOADS: &[&str] = &["init_module", "finit_module"];
/// The syscalls whose rules' `deny` refuses signals to the agent
/// (self-protection; the rule's condition names the agent as the target).
const SIGNALS: &[&str] = &["kill", "tkill", "tgkill"];
/// The syscalls whose rules' `deny` refuses ptrace of the agent.
const PTRACE: &[&str] = &["ptrace"];
/// The syscalls whose rules' `deny` refuses exec of a memfd, when the
/// condition reads `proc.is_exe_from_memfd`.
const EXECS: &[&str] = &["execve", "execveat"];
/// The syscall whose rules' `deny` refuses BPF program loads, when the
/// condition requires `evt.arg.cmd` to be `BPF_PROG_LOAD` (a rule about
/// other commands, such as detaching, arms nothing).
const BPF: &[&str] = &["bpf"];

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
                let about = |types: &[&str]| {
                    r.evt_types()
                        .is_some_and(|mut t| t.any(|t| types.contains(&t)))
                };
                let modules = about(MODULE_LOADS);
                cfg.deny_modules |= modules;
                let signals = about(SIGNALS);
                cfg.deny_signals |= signals;
                let ptrace = about(PTRACE);
                cfg.deny_ptrace |= ptrace;
                let memfd = about(EXECS) && r.condition_reads(FieldId::ProcIsExeFromMemfd);
                cfg.deny_memfd_exec |= memfd;
                let bpf = about(BPF)
                    && r.required_values("evt.arg.cmd")
                        .is_some_and(|v| v.contains(&"BPF_PROG_LOAD"));
                cfg.deny_bpf_prog_load |= bpf;
                for n in &e.enforce_write {
                    if !cfg.deny_write_names.contains(n) {
                        cfg.deny_write_names.push(n.clone());
                    }
                }
                if !modules && !signals && !ptrace && !memfd && !bpf && e.enforce_write.is_empty() {
                    notes.push(format!(
                        "rule '{}': action deny arms no kernel check (needs enforce_write, or a rule about module loads, memfd execs, BPF program loads, or signals or ptrace to the agent); it only alerts",
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
        assert!(cfg.deny_ptrace, "{cfg:?}");
        assert!(cfg.deny_memfd_exec, "{cfg:?}");
        // Containers that load BPF programs for a living (CNI plugins,
        // observability agents) make BPF program loads unsafe to refuse
        // by default.
        assert!(!cfg.deny_bpf_prog_load, "{cfg:?}");
    }

    #[test]
    fn bpf_prog_load_is_armed_only_by_a_bpf_rule_requiring_that_command() {
        let rule = |name: &str, cond: &str| {
            format!("- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n  action: deny\n")
        };
        let set = load(&format!(
            "{}{}{}",
            rule(
                "detach",
                "evt.type = bpf and evt.arg.cmd in (BPF_PROG_DETACH, BPF_LINK_DETACH)"
            ),
            rule("any", "evt.type = bpf and container.id != host"),
            rule(
                "either",
                "evt.type = bpf and (evt.arg.cmd = BPF_PROG_LOAD or proc.name = x)"
            ),
        ));
        let (cfg, notes) = kernel_policy(&set, EnforceMode::On);
        assert!(!cfg.deny_bpf_prog_load, "{cfg:?}");
        assert_eq!(notes.len(), 3, "{notes:?}");
        let set = load(&rule(
            "load",
            "evt.type = bpf and evt.arg.cmd in (BPF_PROG_LOAD, BPF_MAP_CREATE) and container.id != host",
        ));
        let (cfg, notes) = kernel_policy(&set, EnforceMode::On);
        assert!(cfg.deny_bpf_prog_load && cfg.armed(), "{cfg:?}");
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn memfd_exec_is_armed_only_by_an_exec_rule_reading_the_memfd_field() {
        let set = load(
            "- rule: a\n  desc: d\n  condition: evt.type = execve and proc.name = x\n  output: o\n  priority: INFO\n  action: deny\n\
             - rule: b\n  desc: d\n  condition: evt.type = openat and proc.is_exe_from_memfd = true\n  output: o\n  priority: INFO\n  action: deny\n",
        );
        let (cfg, notes) = kernel_policy(&set, EnforceMode::On);
        assert!(!cfg.deny_memfd_exec, "{cfg:?}");
        assert_eq!(notes.len(), 2, "{notes:?}");
        let set = load(
            "- rule: c\n  desc: d\n  condition: evt.type in (execve, execveat) and proc.is_exe_from_memfd = true\n  output: o\n  priority: INFO\n  action: deny\n",
        );
        let (cfg, notes) = kernel_policy(&set, EnforceMode::DryRun);
        assert!(cfg.deny_memfd_exec && cfg.armed(), "{cfg:?}");
        assert!(notes.is_empty(), "{notes:?}");
    }
}
