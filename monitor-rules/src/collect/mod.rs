//! Collect phase: walks the YAML items of every file in order and builds the
//! definitions of lists, macros and rules, applying Falco's `append: true`
//! and `override:` semantics and checking each item's keys. Nothing is
//! compiled here; conditions are kept as the scalar nodes they came from so
//! positions survive appending.

use std::collections::HashMap;

use crate::error::{DiagKind, Diagnostic};
use crate::priority::Priority;
use crate::yaml::{Node, NodeKind, SourceMap};

pub(crate) struct ListDef {
    pub items: Vec<Node>,
}

pub(crate) struct MacroDef {
    pub name: String,
    pub cond: Vec<Node>,
    pub source: String,
}

#[derive(Clone)]
pub(crate) struct ExceptionDef {
    pub name: String,
    pub pos: Node,
    pub fields: Option<Node>,
    pub comps: Option<Node>,
    pub values: Vec<Node>,
}

pub(crate) struct RuleDef {
    pub name: String,
    pub pos: Node,
    pub desc: String,
    pub cond: Vec<Node>,
    pub output: Option<Node>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub exceptions: Vec<ExceptionDef>,
    pub source: String,
    pub skip_if_unknown_filter: bool,
    /// `warn_evttypes: false` silences the "no evt.type" warning.
    pub warn_evttypes: bool,
    /// Falco's `capture`: the alert asks for the events around it.
    pub capture: bool,
    /// `capture_duration` in milliseconds.
    pub capture_duration: Option<u64>,
    /// vigil's extension: `action` and `enforce_write` (docs/enforcement.md).
    pub enforce: Option<crate::action::Enforce>,
}

/// Definitions keyed by name, kept in first-definition order.
pub(crate) struct Table<T> {
    pub items: Vec<T>,
    index: HashMap<String, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> Table<T> {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }
    pub fn get(&self, name: &str) -> Option<&T> {
        self.index.get(name).map(|&i| &self.items[i])
    }
    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.index.get(name).map(|&i| &mut self.items[i])
    }
    /// Insert or replace (a redefinition keeps the original order).
    fn put(&mut self, name: &str, v: T) {
        match self.index.get(name) {
            Some(&i) => self.items[i] = v,
            None => {
                self.index.insert(name.to_owned(), self.items.len());
                self.items.push(v);
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct Collected {
    pub lists: Table<ListDef>,
    pub macros: Table<MacroDef>,
    pub rules: Table<RuleDef>,
    pub required_engine_version: Option<String>,
    /// `required_plugin_versions`: (name, version), in file order.
    pub required_plugins: Vec<(String, String)>,
}

pub(crate) struct Collector<'a> {
    pub sm: &'a SourceMap,
    pub out: Collected,
    pub diags: Vec<Diagnostic>,
}

mod rule;

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "tags",
    "enabled",
    "exceptions",
    "source",
    "append",
    "override",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    // vigil's extension (docs/enforcement.md).
    "action",
    "enforce_write",
];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override", "source"];
const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];

/// Which keys of an item may be appended or replaced by `override`.
fn override_modes(kind: &str, key: &str) -> (bool, bool) {
    match (kind, key) {
        ("rule", "condition" | "output" | "desc" | "tags" | "exceptions") => (true, true),
        (
            "rule",
            "priority"
            | "enabled"
            | "source"
            | "warn_evttypes"
            | "capture"
            | "capture_duration"
            | "skip-if-unknown-filter"
            | "action",
        ) => (false, true),
        ("macro", "condition") => (true, true),
        ("list", "items") => (true, true),
        _ => (false, false),
    }
}

type Res<T> = Result<T, Diagnostic>;

impl<'a> Collector<'a> {
    pub fn new(sm: &'a SourceMap) -> Self {
        Collector {
            sm,
            out: Collected::default(),
            diags: Vec::new(),
        }
    }

    fn diag(&self, n: &Node, kind: DiagKind, message: String) -> Diagnostic {
        Diagnostic {
            pos: self.sm.node_pos(n),
            kind,
            message,
        }
    }

    /// Collect every item of one document root.
    pub fn document(&mut self, root: &Node) {
        match &root.kind {
            NodeKind::Seq(items) => {
                for item in items {
                    if let Err(d) = self.item(item) {
                        self.diags.push(d);
                    }
                }
            }
            // An empty document (only comments) is a null scalar.
            NodeKind::Scalar(s, _) if s.is_empty() || s == "~" || s == "null" => {}
            _ => self.diags.push(self.diag(
                root,
                DiagKind::Schema,
                format!(
                    "a rule file must be a sequence of items (rule, macro, list), found {}",
                    root.kind_name()
                ),
            )),
        }
    }

    fn item(&mut self, item: &Node) -> Res<()> {
        let NodeKind::Map(pairs) = &item.kind else {
            return Err(self.diag(
                item,
                DiagKind::Schema,
                format!(
                    "expected an item (a mapping with rule, macro or list), found {}",
                    item.kind_name()
                ),
            ));
        };
        let mut keys = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Some(ks) = k.as_str() else {
                return Err(self.diag(k, DiagKind::Schema, "keys must be strings".into()));
            };
            if keys.iter().any(|(n, _, _)| *n == ks) {
                return Err(self.diag(k, DiagKind::Schema, format!("duplicate key '{ks}'")));
            }
            keys.push((ks, k, v));
        }
        let has = |name: &str| keys.iter().any(|(n, _, _)| *n == name);
        if has("rule") {
            self.rule(item, &keys)
        } else if has("macro") {
            self.macro_(item, &keys)
        } else if has("list") {
            self.list(item, &keys)
        } else if has("required_engine_version") {
            self.check_keys(
                &keys,
                &["required_engine_version"],
                "required_engine_version",
            )?;
            let v = self.scalar(keys[0].2)?.trim();
            let key =
                |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
            match &self.out.required_engine_version {
                Some(old) if key(old) >= key(v) => {}
                _ => self.out.required_engine_version = Some(v.to_owned()),
            }
            Ok(())
        } else if has("required_plugin_versions") {
            self.check_keys(
                &keys,
                &["required_plugin_versions"],
                "required_plugin_versions",
            )?;
            self.plugin_versions(keys[0].2)
        } else {
            let (name, k, _) = keys
                .first()
                .copied()
                .ok_or_else(|| self.diag(item, DiagKind::Schema, "empty item".into()))?;
            Err(self.diag(
                k,
                DiagKind::Schema,
                format!("unknown item '{name}': expected rule, macro, list, required_engine_version or required_plugin_versions"),
            ))
        }
    }

    fn check_keys(&self, keys: &[(&str, &Node, &Node)], allowed: &[&str], what: &str) -> Res<()> {
        for (name, k, _) in keys {
            if !allowed.contains(name) {
                return Err(self.diag(
                    k,
                    DiagKind::Schema,
                    format!("unknown key '{name}' in {what}"),
                ));
            }
        }
        Ok(())
    }

    fn scalar<'n>(&self, n: &'n Node) -> Res<&'n str> {
        n.as_str().ok_or_else(|| {
            self.diag(
                n,
                DiagKind::Schema,
                format!("expected a string, found {}", n.kind_name()),
            )
        })
    }

    fn boolean(&self, n: &Node) -> Res<bool> {
        match n.as_str() {
            Some("true" | "True" | "TRUE") => Ok(true),
            Some("false" | "False" | "FALSE") => Ok(false),
            _ => Err(self.diag(n, DiagKind::Schema, "expected true or false".into())),
        }
    }

    fn seq<'n>(&self, n: &'n Node) -> Res<&'n [Node]> {
        match &n.kind {
            NodeKind::Seq(v) => Ok(v),
            NodeKind::Scalar(s, _) if s.is_empty() => Ok(&[]),
            _ => Err(self.diag(
                n,
                DiagKind::Schema,
                format!("expected a sequence, found {}", n.kind_name()),
            )),
        }
    }

    fn strings(&self, n: &Node) -> Res<Vec<String>> {
        self.seq(n)?
            .iter()
            .map(|x| self.scalar(x).map(str::to_owned))
            .collect()
    }

    /// Falco's `required_plugin_versions`: recorded (vigil has no plugins;
    /// rules of their sources are skipped), its shape checked.
    fn plugin_versions(&mut self, n: &Node) -> Res<()> {
        for p in self.seq(n)? {
            let NodeKind::Map(pairs) = &p.kind else {
                return Err(self.diag(
                    p,
                    DiagKind::Schema,
                    "expected a mapping with name and version".into(),
                ));
            };
            let (mut name, mut version) = (None, None);
            for (k, v) in pairs {
                let ks = self.scalar(k)?;
                match ks {
                    "name" => name = Some(self.scalar(v)?.to_owned()),
                    "version" => version = Some(self.scalar(v)?.to_owned()),
                    "alternatives" => {
                        self.seq(v)?;
                    }
                    _ => {
                        return Err(self.diag(
                            k,
                            DiagKind::Schema,
                            format!("unknown key '{ks}' in required_plugin_versions"),
                        ))
                    }
                }
            }
            let name = name.ok_or_else(|| {
                self.diag(p, DiagKind::Schema, "required plugin has no 'name'".into())
            })?;
            self.out
                .required_plugins
                .push((name, version.unwrap_or_default()));
        }
        Ok(())
    }

    /// The `override:` map as (key, key node, is_append).
    fn overrides<'n>(&self, kind: &str, n: &'n Node) -> Res<Vec<(&'n str, &'n Node, bool)>> {
        let NodeKind::Map(pairs) = &n.kind else {
            return Err(self.diag(
                n,
                DiagKind::Schema,
                "override must be a mapping of key: append|replace".into(),
            ));
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let key = self.scalar(k)?;
            let mode = self.scalar(v)?;
            let (can_append, can_replace) = override_modes(kind, key);
            let append = match mode {
                "append" if can_append => true,
                "replace" if can_replace => false,
                "append" | "replace" => {
                    return Err(self.diag(
                        v,
                        DiagKind::Schema,
                        format!("key '{key}' of a {kind} cannot be overridden with '{mode}'"),
                    ))
                }
                _ => {
                    return Err(self.diag(
                        v,
                        DiagKind::Schema,
                        format!("override mode must be append or replace, not '{mode}'"),
                    ))
                }
            };
            out.push((key, k, append));
        }
        Ok(out)
    }

    /// Common checks for append/override items: no mixing, every key other
    /// than the name must be overridden (and vice versa).
    #[allow(clippy::type_complexity)]
    fn amend_mode<'n>(
        &self,
        kind: &str,
        keys: &[(&'n str, &'n Node, &'n Node)],
    ) -> Res<Option<Vec<(&'n str, &'n Node, bool)>>> {
        let append = match keys.iter().find(|(n, _, _)| *n == "append") {
            Some((_, _, v)) => self.boolean(v)?,
            None => false,
        };
        let ov = keys.iter().find(|(n, _, _)| *n == "override");
        match (append, ov) {
            (true, Some((_, k, _))) => Err(self.diag(
                k,
                DiagKind::Schema,
                "'append' and 'override' cannot be used together".into(),
            )),
            (true, None) => {
                let mut out = Vec::new();
                for (name, k, _) in keys {
                    if *name == kind || *name == "append" {
                        continue;
                    }
                    if !override_modes(kind, name).0 {
                        return Err(self.diag(
                            k,
                            DiagKind::Schema,
                            format!("'{name}' cannot be appended to a {kind}; use override"),
                        ));
                    }
                    out.push((*name, *k, true));
                }
                Ok(Some(out))
            }
            (false, Some((_, _, v))) => {
                let list = self.overrides(kind, v)?;
                for (name, k, _) in keys {
                    if *name == kind || *name == "override" || *name == "append" {
                        continue;
                    }
                    if !list.iter().any(|(o, _, _)| o == name) {
                        return Err(self.diag(
                            k,
                            DiagKind::Schema,
                            format!("key '{name}' must be listed in 'override'"),
                        ));
                    }
                }
                for (o, k, _) in &list {
                    if !keys.iter().any(|(n, _, _)| n == o) {
                        return Err(self.diag(
                            k,
                            DiagKind::Schema,
                            format!("override of '{o}' but the item has no '{o}' key"),
                        ));
                    }
                }
                Ok(Some(list))
            }
            (false, None) => Ok(None),
        }
    }

    fn list(&mut self, item: &Node, keys: &[(&str, &Node, &Node)]) -> Res<()> {
        self.check_keys(keys, LIST_KEYS, "list")?;
        let get = |n: &str| keys.iter().find(|(k, _, _)| *k == n).map(|(_, _, v)| *v);
        let name_node = get("list").expect("has list");
        let name = self.scalar(name_node)?.to_owned();
        let items = match get("items") {
            Some(n) => {
                let v = self.seq(n)?;
                for x in v {
                    self.scalar(x)?;
                }
                Some(v.to_vec())
            }
            None => None,
        };
        match self.amend_mode("list", keys)? {
            Some(amends) => {
                let existing = self.out.lists.get_mut(&name).ok_or_else(|| Diagnostic {
                    pos: self.sm.node_pos(name_node),
                    kind: DiagKind::UnknownList,
                    message: format!("list '{name}' is appended to or overridden, but no list by that name exists"),
                })?;
                for (key, _, append) in amends {
                    if key == "items" {
                        let new = items.clone().unwrap_or_default();
                        if append {
                            existing.items.extend(new);
                        } else {
                            existing.items = new;
                        }
                    }
                }
            }
            None => {
                let items = items.ok_or_else(|| {
                    self.diag(
                        item,
                        DiagKind::Schema,
                        format!("list '{name}' has no 'items'"),
                    )
                })?;
                self.out.lists.put(&name, ListDef { items });
            }
        }
        Ok(())
    }

    fn macro_(&mut self, item: &Node, keys: &[(&str, &Node, &Node)]) -> Res<()> {
        self.check_keys(keys, MACRO_KEYS, "macro")?;
        let get = |n: &str| keys.iter().find(|(k, _, _)| *k == n).map(|(_, _, v)| *v);
        let name_node = get("macro").expect("has macro");
        let name = self.scalar(name_node)?.to_owned();
        let cond = match get("condition") {
            Some(n) => {
                self.scalar(n)?;
                Some(n.clone())
            }
            None => None,
        };
        let source = match get("source") {
            Some(n) => self.scalar(n)?.to_owned(),
            None => "syscall".to_owned(),
        };
        match self.amend_mode("macro", keys)? {
            Some(amends) => {
                let existing = self.out.macros.get_mut(&name).ok_or_else(|| Diagnostic {
                    pos: self.sm.node_pos(name_node),
                    kind: DiagKind::UnknownMacro,
                    message: format!("macro '{name}' is appended to or overridden, but no macro by that name exists"),
                })?;
                for (key, _, append) in amends {
                    if key == "condition" {
                        let c = cond.clone().expect("checked present");
                        if append {
                            existing.cond.push(c);
                        } else {
                            existing.cond = vec![c];
                        }
                    }
                }
            }
            None => {
                let cond = cond.ok_or_else(|| {
                    self.diag(
                        item,
                        DiagKind::Schema,
                        format!("macro '{name}' has no 'condition'"),
                    )
                })?;
                self.out.macros.put(
                    &name,
                    MacroDef {
                        name: name.clone(),
                        cond: vec![cond],
                        source,
                    },
                );
            }
        }
        Ok(())
    }
}
