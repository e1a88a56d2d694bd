//! Which rules a run uses: the default rule set embedded in the binary
//! ([`DEFAULT_RULES`]), the rule files given on top ([`RuleSpec`]), and
//! reloading them ([`Reloader`]).
//!
//! A reload builds and validates the whole new set before anything changes:
//! if it fails, the running set stays and the error (`file:line:column`) is
//! logged. The pipeline picks a new set up between two batches
//! ([`super::Detector::refresh`]), so a batch is always matched against one set.

use std::path::PathBuf;
use std::sync::Arc;

use monitor_rules::{LoadOptions, LoadReport, RuleSet, RuleSource, RulesError};
use tokio::sync::watch;

/// The default rules (`rules/` in the source tree), in load order.
pub const DEFAULT_RULES: &[(&str, &str)] = &[
    (
        "00-macros.yaml",
        include_str!("../../../rules/00-macros.yaml"),
    ),
    (
        "baseline.yaml",
        include_str!("../../../rules/baseline.yaml"),
    ),
    (
        "breakout.yaml",
        include_str!("../../../rules/breakout.yaml"),
    ),
    (
        "credential_access.yaml",
        include_str!("../../../rules/credential_access.yaml"),
    ),
    (
        "intrusion.yaml",
        include_str!("../../../rules/intrusion.yaml"),
    ),
    ("network.yaml", include_str!("../../../rules/network.yaml")),
    (
        "persistence.yaml",
        include_str!("../../../rules/persistence.yaml"),
    ),
    (
        "privilege_escalation.yaml",
        include_str!("../../../rules/privilege_escalation.yaml"),
    ),
    (
        "resource.yaml",
        include_str!("../../../rules/resource.yaml"),
    ),
    ("tamper.yaml", include_str!("../../../rules/tamper.yaml")),
    (
        "unexpected_exec.yaml",
        include_str!("../../../rules/unexpected_exec.yaml"),
    ),
];

/// Prefix naming embedded files in diagnostics (`default-rules/breakout.yaml:12:5: ...`).
pub const DEFAULT_PREFIX: &str = "default-rules/";

/// The category tags of the default rules; each carries exactly one.
pub const CATEGORIES: &[&str] = &[
    "breakout",
    "privilege-escalation",
    "unexpected-exec",
    "credential-access",
    "tamper",
    "recon",
    "resource",
    "intrusion",
    "persistence",
    "network",
];

/// The embedded default rules as sources.
pub fn default_sources() -> Vec<RuleSource> {
    DEFAULT_RULES
        .iter()
        .map(|(name, text)| RuleSource::new(format!("{DEFAULT_PREFIX}{name}"), *text))
        .collect()
}

/// Which rules a run uses: the defaults (unless dropped), then the given
/// files and directories in order, so they can append to and override the
/// defaults and each other as in Falco.
#[derive(Clone, Debug, Default)]
pub struct RuleSpec {
    pub paths: Vec<PathBuf>,
    pub no_defaults: bool,
    pub strict: bool,
}

impl RuleSpec {
    /// Read and compile everything; nothing is kept on error.
    pub fn load(&self) -> Result<(RuleSet, LoadReport), RulesError> {
        let mut sources = if self.no_defaults {
            Vec::new()
        } else {
            default_sources()
        };
        sources.extend(RuleSource::read_paths(&self.paths)?);
        RuleSet::load(
            &sources,
            &LoadOptions {
                strict: self.strict,
                context_fields: Some(super::fields::is_context_field),
                command_fields: Some(super::fields::is_command_field),
            },
        )
    }
}

/// Log the outcome of a load: one line per skipped rule and warning, then
/// the counts.
pub fn log_report(what: &str, report: &LoadReport) {
    for s in &report.skipped {
        log::warn!("{s}");
    }
    for w in &report.warnings {
        log::warn!("{}: warning: {}", w.pos, w.message);
    }
    log::info!(
        "{what}: {} rules loaded ({} enabled), {} skipped",
        report.loaded,
        report.enabled,
        report.skipped.len()
    );
}

/// Enabled rules that load but cannot fire: every event type they match is
/// one vigil does not produce (a syscall it does not hook), with those
/// types.
pub fn unhooked_rules(set: &RuleSet) -> Vec<(&str, Vec<&str>)> {
    let seen: std::collections::BTreeSet<&str> = crate::event::evt_types().collect();
    set.rules()
        .iter()
        .filter(|r| r.enabled())
        .filter_map(|r| {
            let types: Vec<&str> = r.evt_types()?.collect();
            (!types.is_empty() && types.iter().all(|t| !seen.contains(t)))
                .then_some((r.name(), types))
        })
        .collect()
}

/// One line per [`unhooked_rules`] entry.
pub fn unhooked_lines(set: &RuleSet) -> Vec<String> {
    unhooked_rules(set)
        .into_iter()
        .map(|(rule, types)| {
            format!(
                "note: rule '{rule}' loads but cannot fire: vigil does not hook {}",
                types.join(", ")
            )
        })
        .collect()
}

/// All diagnostics of a failed load, one `file:line:column: message` each.
pub fn error_lines(e: &RulesError) -> Vec<String> {
    match e.diagnostics() {
        [] => vec![e.to_string()],
        d => d.iter().map(|d| d.to_string()).collect(),
    }
}

/// Reloads the rules a [`super::Detector`] uses.
pub struct Reloader {
    spec: RuleSpec,
    tx: watch::Sender<Arc<RuleSet>>,
}

impl Reloader {
    pub(super) fn new(spec: RuleSpec, tx: watch::Sender<Arc<RuleSet>>) -> Reloader {
        Reloader { spec, tx }
    }

    /// Load the spec again; only a set that loads without error replaces
    /// the running one.
    pub fn reload(&self) -> Result<LoadReport, RulesError> {
        let (set, report) = self.spec.load()?;
        self.tx.send_replace(Arc::new(set));
        Ok(report)
    }

    /// The newest rule set (the last one loaded without error).
    pub fn rules(&self) -> Arc<RuleSet> {
        self.tx.borrow().clone()
    }

    /// Reload and log the outcome (the SIGHUP handler): the new set's rule
    /// count, or `None` when the running set stays.
    pub fn reload_and_log(&self) -> Option<usize> {
        match self.reload() {
            Ok(report) => {
                log_report("rules reloaded", &report);
                Some(self.tx.borrow().rules().len())
            }
            Err(e) => {
                for l in error_lines(&e) {
                    log::error!("{l}");
                }
                log::error!("rules reload failed: keeping the previous rules");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fields::EventFields;
    use crate::detect::Detector;
    use crate::event::Event;
    use crate::testutil::TempDir;

    #[test]
    fn every_rules_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().into_string().unwrap();
                n.ends_with(".yaml").then_some(n)
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = DEFAULT_RULES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn defaults_load_without_errors_or_skips() {
        let (set, report) = RuleSpec {
            strict: true,
            ..Default::default()
        }
        .load()
        .unwrap_or_else(|e| panic!("{}", error_lines(&e).join("\n")));
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert!(report.loaded >= 25, "{}", report.loaded);
        assert_eq!(set.rules().len(), report.loaded);
    }

    #[test]
    fn every_default_rule_has_one_category_and_mitre_tags() {
        let (set, _) = RuleSpec::default().load().unwrap();
        for r in set.rules() {
            let cats: Vec<&String> = r
                .tags()
                .iter()
                .filter(|t| CATEGORIES.contains(&t.as_str()))
                .collect();
            assert_eq!(cats.len(), 1, "rule '{}' tags {:?}", r.name(), r.tags());
            let mitre: Vec<&String> = r.tags().iter().filter(|t| is_mitre_technique(t)).collect();
            assert!(
                !mitre.is_empty(),
                "rule '{}' has no MITRE technique tag",
                r.name()
            );
            for t in r.tags() {
                assert!(
                    CATEGORIES.contains(&t.as_str()) || is_mitre_technique(t),
                    "rule '{}': unexpected tag {t}",
                    r.name()
                );
            }
        }
    }

    /// `T1611`, `T1547.006`.
    fn is_mitre_technique(t: &str) -> bool {
        let Some(rest) = t.strip_prefix('T') else {
            return false;
        };
        let (main, sub) = rest.split_once('.').unwrap_or((rest, "000"));
        main.len() == 4
            && sub.len() == 3
            && main.bytes().chain(sub.bytes()).all(|b| b.is_ascii_digit())
    }

    #[test]
    fn user_files_append_to_defaults_and_no_defaults_drops_them() {
        let dir = TempDir::new("rulespec");
        let f = dir.path().join("local.yaml");
        std::fs::write(
            &f,
            "- list: vigil_package_managers\n  items: [mypkg]\n  append: true\n\
             - rule: Kexec load\n  enabled: false\n",
        )
        .unwrap();
        let spec = RuleSpec {
            paths: vec![f.clone()],
            ..Default::default()
        };
        let (set, _) = spec.load().unwrap();
        assert!(!set.get("Kexec load").unwrap().enabled());
        let pm = set.get("Package manager in running container").unwrap();
        let ev = crate::detect::fixtures::build_event(&crate::detect::fixtures::parse_yaml_map(
            "{evt.type: execve, proc.name: mypkg}",
        ))
        .unwrap();
        assert!(pm.matches(&EventFields::new(&ev, "h")));
        // Without the defaults the file refers to a list that does not exist.
        let err = RuleSpec {
            paths: vec![f],
            no_defaults: true,
            ..Default::default()
        }
        .load()
        .unwrap_err();
        assert!(error_lines(&err)[0].contains("local.yaml:1:"), "{err}");
    }

    fn shadow_event() -> Event {
        crate::detect::fixtures::build_event(&crate::detect::fixtures::parse_yaml_map(
            "{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat}",
        ))
        .unwrap()
    }

    #[test]
    fn reload_keeps_the_old_set_when_the_new_one_is_invalid() {
        let dir = TempDir::new("reload");
        let f = dir.path().join("extra.yaml");
        let rule = |cond: &str| {
            format!(
                "- rule: Extra\n  desc: d\n  condition: {cond}\n  output: extra %proc.name\n  priority: NOTICE\n  tags: [recon, T1082]\n"
            )
        };
        std::fs::write(&f, rule("evt.type = openat and proc.name = nothing")).unwrap();
        let spec = RuleSpec {
            paths: vec![f.clone()],
            ..Default::default()
        };
        let (set, _) = spec.load().unwrap();
        let (mut det, reloader) = Detector::new(set, spec, "h".into());
        let names = |d: &Detector| -> Vec<String> {
            let ev = shadow_event();
            let f = d.fields(&ev);
            d.matching(&f).map(|r| r.name().to_owned()).collect()
        };
        assert_eq!(names(&det), ["Read of shadow or sudoers file in container"]);

        // Invalid: unknown field. The error names file:line:column; nothing changes.
        std::fs::write(&f, rule("evt.type = openat and proc.nmae = cat")).unwrap();
        let err = reloader.reload().unwrap_err();
        let lines = error_lines(&err);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{}:3:36:", f.display()))),
            "{lines:?}"
        );
        assert!(reloader.reload_and_log().is_none());
        det.refresh();
        assert_eq!(names(&det), ["Read of shadow or sudoers file in container"]);

        // Valid: the new rule takes effect after refresh.
        std::fs::write(&f, rule("evt.type = openat and proc.name = cat")).unwrap();
        let report = reloader.reload().unwrap();
        assert!(report.skipped.is_empty());
        assert_eq!(names(&det).len(), 1, "not before the pipeline refreshes");
        det.refresh();
        assert_eq!(
            names(&det),
            ["Read of shadow or sudoers file in container", "Extra"]
        );
    }
}
