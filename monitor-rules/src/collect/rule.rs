//! Collecting `rule` items: a new rule, or an amendment of an existing one
//! (`append: true`, `override:`, or the legacy `enabled`-only item), and
//! their `exceptions` blocks.

use crate::error::{DiagKind, Diagnostic};
use crate::priority::Priority;
use crate::yaml::{Node, NodeKind};

use super::{Collector, ExceptionDef, Res, RuleDef, RULE_KEYS};

const EXCEPTION_KEYS: &[&str] = &["name", "fields", "comps", "values"];

impl Collector<'_> {
    fn exceptions(&self, n: &Node) -> Res<Vec<ExceptionDef>> {
        let mut out = Vec::new();
        for e in self.seq(n)? {
            let NodeKind::Map(pairs) = &e.kind else {
                return Err(self.diag(
                    e,
                    DiagKind::Schema,
                    "an exception must be a mapping with name, fields, comps, values".into(),
                ));
            };
            let mut ex = ExceptionDef {
                name: String::new(),
                pos: e.clone(),
                fields: None,
                comps: None,
                values: Vec::new(),
            };
            let mut named = false;
            for (k, v) in pairs {
                let key = self.scalar(k)?;
                if !EXCEPTION_KEYS.contains(&key) {
                    return Err(self.diag(
                        k,
                        DiagKind::Schema,
                        format!("unknown key '{key}' in exception"),
                    ));
                }
                match key {
                    "name" => {
                        ex.name = self.scalar(v)?.to_owned();
                        named = true;
                    }
                    "fields" => ex.fields = Some(v.clone()),
                    "comps" => ex.comps = Some(v.clone()),
                    _ => ex.values = self.seq(v)?.to_vec(),
                }
            }
            if !named {
                return Err(self.diag(e, DiagKind::Schema, "exception has no 'name'".into()));
            }
            out.push(ex);
        }
        Ok(out)
    }

    pub(super) fn rule(&mut self, item: &Node, keys: &[(&str, &Node, &Node)]) -> Res<()> {
        self.check_keys(keys, RULE_KEYS, "rule")?;
        let get = |n: &str| keys.iter().find(|(k, _, _)| *k == n).map(|(_, _, v)| *v);
        let name_node = get("rule").expect("has rule");
        let name = self.scalar(name_node)?.to_owned();
        let unknown_rule = |what: &str| Diagnostic {
            pos: self.sm.node_pos(name_node),
            kind: DiagKind::UnknownRule,
            message: format!("rule '{name}' {what}, but no rule by that name exists"),
        };
        let desc = get("desc")
            .map(|n| self.scalar(n).map(str::to_owned))
            .transpose()?;
        let cond = get("condition")
            .map(|n| self.scalar(n).map(|_| n.clone()))
            .transpose()?;
        let output = get("output")
            .map(|n| self.scalar(n).map(|_| n.clone()))
            .transpose()?;
        let priority = get("priority")
            .map(|n| {
                let s = self.scalar(n)?;
                Priority::parse(s).ok_or_else(|| {
                    self.diag(
                        n,
                        DiagKind::Priority,
                        format!(
                            "invalid priority '{s}': expected one of {}",
                            Priority::NAMES.join(", ")
                        ),
                    )
                })
            })
            .transpose()?;
        let tags = get("tags").map(|n| self.strings(n)).transpose()?;
        let enabled = get("enabled").map(|n| self.boolean(n)).transpose()?;
        let exceptions = get("exceptions").map(|n| self.exceptions(n)).transpose()?;
        let source = get("source")
            .map(|n| self.scalar(n).map(str::to_owned))
            .transpose()?;
        let skip = get("skip-if-unknown-filter")
            .map(|n| self.boolean(n))
            .transpose()?;
        let warn_evttypes = get("warn_evttypes").map(|n| self.boolean(n)).transpose()?;
        let capture = get("capture").map(|n| self.boolean(n)).transpose()?;
        let capture_duration = get("capture_duration")
            .map(|n| {
                self.scalar(n)?.trim().parse::<u64>().map_err(|_| {
                    self.diag(
                        n,
                        DiagKind::Schema,
                        "capture_duration must be a number of milliseconds".into(),
                    )
                })
            })
            .transpose()?;

        let enforce = self.enforce(get("action"), get("enforce_write"))?;

        let amends = self.amend_mode("rule", keys)?;
        // Legacy form: only the name and `enabled` toggles an existing rule.
        let only_enabled = amends.is_none()
            && enabled.is_some()
            && keys.iter().all(|(k, _, _)| *k == "rule" || *k == "enabled");
        if only_enabled {
            let r = self
                .out
                .rules
                .get_mut(&name)
                .ok_or_else(|| unknown_rule("sets 'enabled'"))?;
            r.enabled = enabled.expect("checked");
            return Ok(());
        }
        match amends {
            Some(amends) => {
                let r = self
                    .out
                    .rules
                    .get_mut(&name)
                    .ok_or_else(|| unknown_rule("is appended to or overridden"))?;
                for (key, _, append) in amends {
                    match key {
                        "condition" => {
                            let c = cond.clone().expect("present");
                            if append {
                                r.cond.push(c)
                            } else {
                                r.cond = vec![c]
                            }
                        }
                        "output" => {
                            let o = output.clone().expect("present");
                            match (&mut r.output, append) {
                                (Some(prev), true) => {
                                    // Appending output text: keep positions of the
                                    // new part by storing a joined scalar at the
                                    // original position.
                                    if let (NodeKind::Scalar(a, _), Some(b)) =
                                        (&mut prev.kind, o.as_str())
                                    {
                                        a.push(' ');
                                        a.push_str(b);
                                    }
                                }
                                _ => r.output = Some(o),
                            }
                        }
                        "desc" => {
                            let d = desc.clone().expect("present");
                            if append {
                                r.desc.push(' ');
                                r.desc.push_str(&d);
                            } else {
                                r.desc = d;
                            }
                        }
                        "tags" => {
                            let t = tags.clone().expect("present");
                            if append {
                                for x in t {
                                    if !r.tags.contains(&x) {
                                        r.tags.push(x);
                                    }
                                }
                            } else {
                                r.tags = t;
                            }
                        }
                        "exceptions" => {
                            let ex = exceptions.clone().unwrap_or_default();
                            if append {
                                for e in ex {
                                    match r.exceptions.iter_mut().find(|x| x.name == e.name) {
                                        Some(x) => x.values.extend(e.values),
                                        None => r.exceptions.push(e),
                                    }
                                }
                            } else {
                                r.exceptions = ex;
                            }
                        }
                        "priority" => r.priority = priority.expect("present"),
                        "enabled" => r.enabled = enabled.expect("present"),
                        "source" => r.source = source.clone().expect("present"),
                        "warn_evttypes" => r.warn_evttypes = warn_evttypes.expect("present"),
                        "capture" => r.capture = capture.expect("present"),
                        "capture_duration" => r.capture_duration = capture_duration,
                        // With its enforce_write, if any, as one unit.
                        "action" => r.enforce = enforce.clone(),
                        "skip-if-unknown-filter" => {
                            r.skip_if_unknown_filter = skip.expect("present")
                        }
                        _ => {}
                    }
                }
            }
            None => {
                let missing = ["condition", "output", "desc", "priority"]
                    .into_iter()
                    .find(|k| get(k).is_none());
                if let Some(m) = missing {
                    return Err(self.diag(
                        item,
                        DiagKind::Schema,
                        format!("rule '{name}' has no '{m}'"),
                    ));
                }
                let def = RuleDef {
                    name: name.clone(),
                    pos: name_node.clone(),
                    desc: desc.expect("checked"),
                    cond: vec![cond.expect("checked")],
                    output,
                    priority: priority.expect("checked"),
                    tags: tags.unwrap_or_default(),
                    enabled: enabled.unwrap_or(true),
                    exceptions: exceptions.unwrap_or_default(),
                    source: source.unwrap_or_else(|| "syscall".to_owned()),
                    skip_if_unknown_filter: skip.unwrap_or(false),
                    warn_evttypes: warn_evttypes.unwrap_or(true),
                    capture: capture.unwrap_or(false),
                    capture_duration,
                    enforce,
                };
                self.out.rules.put(&name, def);
            }
        }
        Ok(())
    }
}

impl Collector<'_> {
    /// vigil's `action: deny|kill` and `enforce_write: [names]`
    /// (docs/enforcement.md): what the kernel does when enforcement is on.
    fn enforce(
        &self,
        action: Option<&Node>,
        enforce_write: Option<&Node>,
    ) -> Res<Option<crate::action::Enforce>> {
        use crate::action::{Action, Enforce};
        let Some(a) = action else {
            return match enforce_write {
                Some(n) => Err(self.diag(
                    n,
                    DiagKind::Schema,
                    "enforce_write needs an `action` on the same rule".into(),
                )),
                None => Ok(None),
            };
        };
        let s = self.scalar(a)?;
        let action = Action::parse(s).ok_or_else(|| {
            self.diag(
                a,
                DiagKind::Schema,
                format!("invalid action '{s}': expected deny or kill"),
            )
        })?;
        let names = match enforce_write {
            Some(n) => {
                let names = self.strings(n)?;
                if let Some(bad) = names
                    .iter()
                    .find(|x| x.is_empty() || x.len() > 31 || x.contains(['/', '\0']))
                {
                    return Err(self.diag(
                        n,
                        DiagKind::Schema,
                        format!(
                            "enforce_write entry '{bad}' must be a file name (1..=31 bytes, no '/')"
                        ),
                    ));
                }
                names
            }
            None => Vec::new(),
        };
        Ok(Some(Enforce {
            action,
            enforce_write: names,
        }))
    }
}
