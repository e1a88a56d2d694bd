//! What the loaded rules need the sensor to deliver. The kernel reports
//! opens (and unlinks) only for paths its open filter selects, so the
//! filter is derived from the rules: the built-in list
//! ([`default_open_filter`]) plus every path prefix and file name the
//! enabled rules test on those events. Rules the filter cannot serve (a
//! condition that matches opens of any path, a name too long for the
//! kernel's comparison) are named in [`SensorNeeds::notes`], which
//! `vigil rules check` prints and `vigil run` logs at start and on reload.

use std::collections::BTreeSet;

use monitor_common::filter::{when, NAME_LEN, PREFIX_LEN};
use monitor_common::syscalls::Extra;
use monitor_common::SyscallId;
use monitor_rules::{CompiledRule, OpenPaths, PathPattern, RuleSet};

use super::rules::DEFAULT_PREFIX;
use crate::sensor::{default_open_filter, OpenFilter};

/// The open filter for a rule set and what it cannot deliver.
#[derive(Debug)]
pub struct SensorNeeds {
    /// The built-in filter plus the rules' paths.
    pub filter: OpenFilter,
    /// Prefixes and names added for the rules (beyond the built-in list).
    pub added: usize,
    /// One per rule test the filter cannot serve.
    pub notes: Vec<Note>,
}

/// A rule test the open filter cannot serve.
#[derive(Debug, Clone)]
pub struct Note {
    /// The rule is one of the embedded defaults (served in part by the
    /// built-in list, documented in docs/rules.md).
    pub default_rule: bool,
    /// `file:line:column: note: rule '…' …`.
    pub line: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

/// The event types the kernel filters by path (from the syscall table).
pub fn filtered_types() -> impl Iterator<Item = &'static str> {
    SyscallId::ALL
        .iter()
        .filter(|id| id.read().extra.open_filtered())
        .map(|id| id.name())
}

/// Can the rule match one of the filtered event types?
fn sees_filtered(rule: &CompiledRule, filtered: &BTreeSet<&str>) -> bool {
    match rule.evt_types() {
        Some(mut types) => types.any(|t| filtered.contains(t)),
        // Any event type: only a rule about paths is about opens.
        None => !matches!(rule.open_paths(), OpenPaths::Any),
    }
}

/// Does the rule only match syscalls the kernel always treats as writes
/// (`creat`, `unlink`, `unlinkat`)?
fn writes_only(rule: &CompiledRule) -> bool {
    let Some(mut types) = rule.evt_types() else {
        return false;
    };
    types.all(|t| {
        SyscallId::ALL
            .iter()
            .any(|id| id.name() == t && id.read().extra == Extra::Creat)
    })
}

/// Derive the open filter from the enabled rules.
pub fn sensor_needs(set: &RuleSet) -> SensorNeeds {
    let filtered: BTreeSet<&str> = filtered_types().collect();
    let mut filter = default_open_filter();
    let builtin = filter.clone();
    let mut notes = Vec::new();
    let mut extra = OpenFilter::default();
    for rule in set.rules().iter().filter(|r| r.enabled()) {
        if !sees_filtered(rule, &filtered) {
            continue;
        }
        let mut note = |text: String| {
            notes.push(Note {
                default_rule: rule.pos().file.starts_with(DEFAULT_PREFIX),
                line: format!("{}: note: rule '{}' {text}", rule.pos(), rule.name()),
            })
        };
        let needs = match rule.open_paths() {
            OpenPaths::Only(n) => n,
            OpenPaths::Any => {
                note(
                    "can match opens of any path, but the kernel reports only opens of the paths \
                     and file names rules test (fd.name, fd.directory, fd.filename with =, in, \
                     startswith, glob, pmatch): it fires only for those"
                        .into(),
                );
                continue;
            }
        };
        for n in needs {
            let w = if n.write_only || writes_only(rule) {
                when::WRITE
            } else {
                when::ANY
            };
            match n.pattern {
                PathPattern::Prefix(p) => match kernel_prefix(&p) {
                    Ok(k) => extra.prefixes.push((k, w)),
                    Err(why) => note(format!(
                        "tests paths starting with {p:?}, which the kernel filter does not take \
                         ({why}): those opens are not reported"
                    )),
                },
                PathPattern::Name(name) => {
                    if name.len() < NAME_LEN && !name.contains('\0') {
                        extra.names.push((name, w));
                    } else {
                        note(format!(
                            "tests the file name {name:?}, longer than the kernel compares ({} \
                             bytes): opens of it are reported only under a path the rules list",
                            NAME_LEN - 1
                        ));
                    }
                }
            }
        }
    }
    let added = extra
        .prefixes
        .iter()
        .filter(|e| !builtin.prefixes.contains(e))
        .collect::<BTreeSet<_>>()
        .len()
        + extra
            .names
            .iter()
            .filter(|e| !builtin.names.contains(e))
            .collect::<BTreeSet<_>>()
            .len();
    filter.extend(extra);
    SensorNeeds {
        filter,
        added,
        notes,
    }
}

/// A rule's prefix as the kernel compares it: the first [`PREFIX_LEN`]
/// bytes (a shorter prefix still selects every path the rule can match;
/// the rule then decides), at a character boundary.
fn kernel_prefix(p: &str) -> Result<String, &'static str> {
    if p.contains('\0') {
        return Err("it contains a NUL byte");
    }
    // "/" or "" would send every open to userspace.
    if p.len() < 2 {
        return Err("it would select every open");
    }
    let mut end = p.len().min(PREFIX_LEN);
    while !p.is_char_boundary(end) {
        end -= 1;
    }
    Ok(p[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor_rules::{LoadOptions, RuleSource};

    fn load(yaml: &str) -> RuleSet {
        RuleSet::load(&[RuleSource::new("t.yaml", yaml)], &LoadOptions::default())
            .unwrap()
            .0
    }

    fn rule(name: &str, cond: &str) -> String {
        format!(
            "- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n"
        )
    }

    #[test]
    fn user_paths_join_the_builtin_filter() {
        let set = load(&format!(
            "{}{}{}{}",
            rule(
                "secrets",
                "evt.type in (open, openat) and fd.name startswith /srv/app/secrets/"
            ),
            rule(
                "token",
                "evt.type = openat and evt.is_open_write = true and fd.filename = app.token"
            ),
            rule("execs", "evt.type = execve and proc.name = nc"),
            rule(
                "unpin",
                "evt.type in (unlink, unlinkat) and fd.name startswith /srv/pins/"
            ),
        ));
        let n = sensor_needs(&set);
        assert!(n.notes.is_empty(), "{:?}", n.notes);
        assert_eq!(n.added, 3);
        // Unlinks are writes to the kernel filter.
        assert!(n
            .filter
            .prefixes
            .contains(&("/srv/pins/".into(), when::WRITE)));
        assert!(n
            .filter
            .prefixes
            .contains(&("/srv/app/secrets/".into(), when::ANY)));
        assert!(n.filter.names.contains(&("app.token".into(), when::WRITE)));
        // The built-in entries stay.
        assert!(n
            .filter
            .prefixes
            .contains(&("/etc/shadow".into(), when::ANY)));
    }

    #[test]
    fn undeliverable_tests_are_named() {
        let long = "n".repeat(40);
        let set = load(&format!(
            "{}{}{}{}",
            rule("any", "evt.type = openat and fd.name contains secret"),
            rule("root", "evt.type = openat and fd.name startswith /"),
            rule(
                "long",
                &format!("evt.type = openat and fd.filename = {long}")
            ),
            rule("not-open", "evt.type = connect and fd.name contains x"),
        ));
        let n = sensor_needs(&set);
        assert_eq!(n.notes.len(), 3, "{:#?}", n.notes);
        for (note, r) in n.notes.iter().zip(["'any'", "'root'", "'long'"]) {
            assert!(note.line.starts_with("t.yaml:"), "{note}");
            assert!(note.line.contains(r) && !note.default_rule, "{note}");
        }
        assert_eq!(n.added, 0);
    }

    #[test]
    fn long_prefixes_are_cut_to_what_the_kernel_compares() {
        let p = format!("/{}", "é".repeat(100));
        let k = kernel_prefix(&p).unwrap();
        assert!(k.len() <= PREFIX_LEN && p.starts_with(&k));
    }

    #[test]
    fn the_default_rules_are_served() {
        let (set, _) = super::super::RuleSpec::default().load().unwrap();
        let n = sensor_needs(&set);
        // Every default rule on opens names its paths, but these: paths
        // under a host mount (`fd.host_path`) sit wherever the container
        // mounted it, and the cloud credential stores are tested with
        // `contains`; the built-in list serves them by file name
        // (docs/rules.md, "What the sensor reports").
        let mut noted: Vec<&str> = n
            .notes
            .iter()
            .map(|n| {
                assert!(n.default_rule, "{n}");
                n.line.split('\'').nth(1).unwrap()
            })
            .collect();
        noted.sort();
        assert_eq!(
            noted,
            [
                "Cloud or SSH credentials read in container",
                "Host credential file read through a mount in container",
                "Write to host system path through a mount in container",
            ]
        );
        n.filter.encode().unwrap();
    }

    #[test]
    fn filtered_types_come_from_the_syscall_table() {
        let t: Vec<_> = filtered_types().collect();
        for want in ["open", "openat", "openat2", "creat"] {
            assert!(t.contains(&want), "{t:?}");
        }
        assert!(!t.contains(&"execve"));
    }
}
