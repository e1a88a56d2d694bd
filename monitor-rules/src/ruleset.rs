//! The loaded rule set and its public API: loading files or named sources
//! through the read → collect → compile phases, the per-event-type index,
//! and the compiled rules the agent matches events against.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::action::{Capture, Enforce};
use crate::collect::Collector;
use crate::compile::{Compiler, Skip};
use crate::error::{DiagKind, Diagnostic, Pos, RulesError};
use crate::expr::{
    Check, ContextMemo, Expr, FastHash, Memo, OpenPaths, Required, SlotMask, MEMO_SLOTS,
};
use crate::field::{Field, FieldId};
use crate::index::{Bucket, Candidates};
use crate::output::OutputTemplate;
use crate::value::{FieldSource, Value};
use crate::yaml::SourceMap;
use crate::Priority;

/// A rule file's name (used in positions) and its text.
#[derive(Debug, Clone)]
pub struct RuleSource {
    pub name: String,
    pub text: String,
}

impl RuleSource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> RuleSource {
        RuleSource {
            name: name.into(),
            text: text.into(),
        }
    }

    /// A source from raw bytes; invalid UTF-8 is a diagnostic at its position.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<RuleSource, RulesError> {
        match std::str::from_utf8(bytes) {
            Ok(t) => Ok(RuleSource::new(name, t)),
            Err(e) => {
                let good = &bytes[..e.valid_up_to()];
                let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let col = String::from_utf8_lossy(&good[line_start..]).chars().count() as u32 + 1;
                Err(RulesError::Invalid(vec![Diagnostic {
                    pos: Pos {
                        file: Arc::from(name),
                        line,
                        col,
                    },
                    kind: DiagKind::Yaml,
                    message: "file is not valid UTF-8".into(),
                }]))
            }
        }
    }

    /// Read files and directories: a directory contributes its `*.yaml` and
    /// `*.yml` files sorted by name (not recursively).
    pub fn read_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<RuleSource>, RulesError> {
        let mut out = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let io = |source| RulesError::Io {
                path: p.to_owned(),
                source,
            };
            if p.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(io)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| {
                        f.is_file()
                            && matches!(
                                f.extension().and_then(|e| e.to_str()),
                                Some("yaml" | "yml")
                            )
                    })
                    .collect();
                files.sort();
                for f in files {
                    out.push(read_file(&f)?);
                }
            } else {
                out.push(read_file(p)?);
            }
        }
        Ok(out)
    }
}

fn read_file(p: &Path) -> Result<RuleSource, RulesError> {
    let bytes = std::fs::read(p).map_err(|source| RulesError::Io {
        path: p.to_owned(),
        source,
    })?;
    RuleSource::from_bytes(&p.display().to_string(), &bytes)
}

/// Options for loading.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Treat rules vigil cannot support (unknown to vigil but Falco fields,
    /// other sources) as errors instead of skipping them.
    pub strict: bool,
    /// The fields whose value is the same for every event that shares a
    /// context (for vigil: a process and its container), so that a
    /// caller may carry what one event's matching learnt about them to the
    /// next event of that context ([`RuleSet::matching_from`]). `None`:
    /// no field is.
    pub context_fields: Option<fn(&Field) -> bool>,
    /// Of the context fields, those whose value is also the same for every
    /// context of one command (for vigil: every process that runs the same
    /// exec context under the same name in one container; not its pid,
    /// user or namespaces), so that a caller may carry what the rules learnt
    /// about them to the first event of another context of that command
    /// ([`RuleSet::command_part`]). `None`: no field is.
    pub command_fields: Option<fn(&Field) -> bool>,
}

impl LoadOptions {
    /// Unsupported rules are errors; nothing else set.
    pub fn strict() -> LoadOptions {
        LoadOptions {
            strict: true,
            ..LoadOptions::default()
        }
    }
}

/// What loading did besides producing the rule set.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Files (source names) loaded, in order.
    pub files: Vec<String>,
    /// Rules compiled (enabled or not).
    pub loaded: usize,
    /// Of those, enabled.
    pub enabled: usize,
    /// Rules left out, one line each.
    pub skipped: Vec<Skip>,
    /// Not errors, but worth reading.
    pub warnings: Vec<Diagnostic>,
    /// The highest `required_engine_version` the files ask for (Falco's
    /// engine version; vigil reads it but does not compare).
    pub required_engine_version: Option<String>,
    /// `required_plugin_versions` entries (name, version). vigil has no
    /// plugins: reported, not fatal; rules of their sources are skipped.
    pub required_plugins: Vec<(String, String)>,
}

impl LoadReport {
    /// Skipped rules grouped by reason, most frequent first (ties by
    /// reason): `(reason, rule names)`.
    pub fn skips_by_reason(&self) -> Vec<(&str, Vec<&str>)> {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for s in &self.skipped {
            match groups.iter_mut().find(|(r, _)| *r == s.reason) {
                Some((_, rules)) => rules.push(&s.rule),
                None => groups.push((&s.reason, vec![&s.rule])),
            }
        }
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        groups
    }

    /// One-line summary: `loaded N rules (M enabled), skipped K`.
    pub fn summary(&self) -> String {
        format!(
            "loaded {} rules ({} enabled) from {} file(s), skipped {}",
            self.loaded,
            self.enabled,
            self.files.len(),
            self.skipped.len()
        )
    }
}

/// A rule ready to match events.
pub struct CompiledRule {
    name: String,
    pos: Pos,
    desc: String,
    priority: Priority,
    tags: Vec<String>,
    enabled: bool,
    source: String,
    expr: Expr,
    output: OutputTemplate,
    evt_types: Option<BTreeSet<Box<str>>>,
    capture: Option<Capture>,
    enforce: Option<Enforce>,
    /// Shared checks the condition needs true (set by the index).
    required: Required,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("evt_types", &self.evt_types)
            .finish_non_exhaustive()
    }
}

impl CompiledRule {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn desc(&self) -> &str {
        &self.desc
    }
    pub fn priority(&self) -> Priority {
        self.priority
    }
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// The event source (`syscall`).
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Where the rule was (first) defined.
    pub fn pos(&self) -> &Pos {
        &self.pos
    }
    /// The event types the rule can match (`None`: any).
    pub fn evt_types(&self) -> Option<impl Iterator<Item = &str>> {
        self.evt_types.as_ref().map(|s| s.iter().map(|t| &**t))
    }
    /// `Some` when the rule asks for a capture (Falco's `capture: true`).
    /// Which opened paths the condition can match (see [`OpenPaths`]), for
    /// sensors that filter opens before they reach the rules.
    pub fn open_paths(&self) -> OpenPaths {
        self.expr.open_paths()
    }

    pub fn capture(&self) -> Option<Capture> {
        self.capture
    }

    /// `Some` when the rule asks for an action (docs/enforcement.md).
    pub fn enforce(&self) -> Option<&Enforce> {
        self.enforce.as_ref()
    }
    /// Does the condition read `id` (e.g. to tell which kernel check an
    /// action can arm)?
    pub fn condition_reads(&self, id: FieldId) -> bool {
        let mut found = false;
        self.expr.fields(&mut |f| found |= f.id == id);
        found
    }
    /// The values the condition requires the field `name` (e.g.
    /// `evt.arg.cmd`) to take, by a top-level `name = x` or `name in (...)`
    /// (the rule matches no event where it has another value); None when
    /// it requires none.
    pub fn required_values(&self, name: &str) -> Option<Vec<&str>> {
        self.expr
            .required_values_and_args()
            .into_iter()
            .find(|(f, _)| f.name() == name)
            .map(|(_, v)| v)
    }
    /// Evaluate the condition (ignores the type index and `enabled`).
    pub fn matches<E: FieldSource + ?Sized>(&self, ev: &E) -> bool {
        self.expr.eval(ev, &mut Memo::new())
    }
    /// The alert's `output` text.
    pub fn format_output<E: FieldSource + ?Sized>(&self, ev: &E) -> String {
        self.output.format(ev)
    }
    /// The fields named in the output template with their values
    /// (Falco's `output_fields`; `None` renders as null).
    pub fn output_fields<'e, E: FieldSource + ?Sized>(
        &self,
        ev: &'e E,
    ) -> Vec<(&str, Option<Value<'e>>)> {
        self.output.fields(ev)
    }
}

/// Iterator over the rules matching one event (see [`RuleSet::matching`]).
pub struct Matching<'s, 'e, E: ?Sized> {
    set: &'s RuleSet,
    ev: &'e E,
    next: Candidates<'s>,
    memo: Memo,
}

impl<E: ?Sized> Matching<'_, '_, E> {
    /// What the matching so far knows about the event's context checks
    /// (and what it was started with): for the next event of the context.
    pub fn context(&self) -> ContextMemo {
        self.memo.context(&self.set.context)
    }
}

impl<'s, E: FieldSource + ?Sized> Iterator for Matching<'s, '_, E> {
    type Item = &'s CompiledRule;

    fn next(&mut self) -> Option<&'s CompiledRule> {
        for i in self.next.by_ref() {
            let r = &self.set.rules[i as usize];
            if self.memo.refutes(&r.required) {
                continue;
            }
            if r.expr.eval_condition(self.ev, &mut self.memo) {
                return Some(r);
            }
        }
        None
    }
}

/// Compiled rules indexed by event type.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    /// Enabled rule indices per event type, in definition order, with the
    /// type-independent rules merged in.
    by_type: HashMap<Box<str>, Bucket, FastHash>,
    /// Enabled rules that can match any event type.
    any_type: Bucket,
    /// The memo slots of checks that read only context fields.
    context: SlotMask,
    /// Of those, the slots of checks that read only command fields.
    command: SlotMask,
    /// Sources and definitions, kept to compile standalone conditions
    /// with the set's macros and lists ([`RuleSet::filter`]).
    pub(crate) defs: Defs,
}

#[derive(Default)]
pub(crate) struct Defs {
    pub(crate) sm: SourceMap,
    pub(crate) collected: crate::collect::Collected,
}

impl std::fmt::Debug for Defs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Defs { .. }")
    }
}

impl RuleSet {
    /// Load rule files and directories (see [`RuleSource::read_paths`]).
    pub fn load_paths<P: AsRef<Path>>(
        paths: &[P],
        opts: &LoadOptions,
    ) -> Result<(RuleSet, LoadReport), RulesError> {
        let sources = RuleSource::read_paths(paths)?;
        RuleSet::load(&sources, opts)
    }

    /// Load named sources in order (later files append to or override
    /// earlier ones). All problems are reported together.
    pub fn load(
        sources: &[RuleSource],
        opts: &LoadOptions,
    ) -> Result<(RuleSet, LoadReport), RulesError> {
        let mut sm = SourceMap::default();
        let mut docs = Vec::new();
        let mut errors = Vec::new();
        // Phase 1: read.
        for s in sources {
            let id = sm.add(&s.name, &s.text);
            match crate::yaml::read(id, &sm.name(id), &s.text) {
                Ok(d) => docs.push(d),
                Err(e) => errors.push(e),
            }
        }
        // Phase 2: collect.
        let mut col = Collector::new(&sm);
        for d in docs.iter().flatten() {
            col.document(d);
        }
        errors.append(&mut col.diags);
        let collected = col.out;
        // Phase 3: compile.
        let mut comp = Compiler::new(&sm, &collected);
        comp.macros();
        let mut report = LoadReport {
            files: sources.iter().map(|s| s.name.clone()).collect(),
            ..Default::default()
        };
        let mut rules = Vec::new();
        for r in &collected.rules.items {
            match comp.rule(r) {
                Ok(Some(c)) => rules.push(CompiledRule {
                    name: c.name,
                    pos: c.pos,
                    desc: c.desc,
                    priority: c.priority,
                    tags: c.tags,
                    enabled: c.enabled,
                    source: c.source,
                    expr: c.expr,
                    output: c.output,
                    evt_types: c.evt_types,
                    capture: c.capture,
                    enforce: c.enforce,
                    required: Required::default(),
                }),
                Ok(None) => {}
                Err(skip) if opts.strict => errors.push(Diagnostic {
                    pos: skip.pos.clone(),
                    kind: DiagKind::Unsupported,
                    message: format!("rule '{}' is not supported: {}", skip.rule, skip.reason),
                }),
                Err(skip) => report.skipped.push(skip),
            }
        }
        errors.append(&mut comp.errors);
        if !errors.is_empty() {
            errors.sort_by(|a, b| {
                (&a.pos.file, a.pos.line, a.pos.col).cmp(&(&b.pos.file, b.pos.line, b.pos.col))
            });
            errors.dedup();
            return Err(RulesError::Invalid(errors));
        }
        report.warnings = comp.warnings;
        report.required_engine_version = collected.required_engine_version.clone();
        report.required_plugins = collected.required_plugins.clone();
        report.loaded = rules.len();
        report.enabled = rules.iter().filter(|r| r.enabled).count();
        let mut set = RuleSet::index(rules, opts.context_fields, opts.command_fields);
        set.defs = Defs { sm, collected };
        Ok((set, report))
    }

    fn index(
        mut rules: Vec<CompiledRule>,
        context: Option<fn(&Field) -> bool>,
        command: Option<fn(&Field) -> bool>,
    ) -> RuleSet {
        // Checks used by several enabled rules get a memo slot, so each is
        // evaluated at most once per event; so do checks of context fields,
        // whose results a caller may carry from event to event (after the
        // shared ones: those also save work within one event).
        let mut uses: HashMap<u32, u32> = HashMap::new();
        for r in rules.iter_mut().filter(|r| r.enabled) {
            r.expr
                .checks_mut(&mut |c| *uses.entry(c.key).or_default() += 1);
        }
        let is_context = |c: &Check| context.is_some_and(|f| c.reads_only(f));
        // A command's fields are context fields that more contexts share.
        let is_command = |c: &Check| is_context(c) && command.is_some_and(|f| c.reads_only(f));
        let mut slots: HashMap<u32, u32> = HashMap::new();
        let mut context_mask = SlotMask::default();
        let mut command_mask = SlotMask::default();
        for context_pass in [false, true] {
            for r in rules.iter_mut().filter(|r| r.enabled) {
                r.expr.checks_mut(&mut |c| {
                    let wanted = if context_pass {
                        is_context(c)
                    } else {
                        uses[&c.key] > 1
                    };
                    if !wanted {
                        return;
                    }
                    let next = slots.len() as u32;
                    let slot = *slots.entry(c.key).or_insert(next);
                    if (slot as usize) < MEMO_SLOTS {
                        c.slot = slot;
                        let bit = 1 << (slot % 64);
                        if is_context(c) {
                            context_mask[slot as usize / 64] |= bit;
                        }
                        if is_command(c) {
                            command_mask[slot as usize / 64] |= bit;
                        }
                    }
                });
            }
        }
        for r in rules.iter_mut() {
            r.required = r.expr.required_slots();
        }
        let mut any_type = Vec::new();
        let mut by_type: HashMap<Box<str>, Vec<u32>, FastHash> = HashMap::default();
        for (i, r) in rules.iter().enumerate() {
            if !r.enabled {
                continue;
            }
            match &r.evt_types {
                None => any_type.push(i as u32),
                Some(types) => {
                    for t in types {
                        by_type.entry(t.clone()).or_default().push(i as u32);
                    }
                }
            }
        }
        let by_type = by_type
            .into_iter()
            .map(|(t, mut v)| {
                v.extend_from_slice(&any_type);
                v.sort_unstable();
                (t, Bucket::build(v, |i| &rules[i as usize].expr))
            })
            .collect();
        let any_type = Bucket::build(any_type, |i| &rules[i as usize].expr);
        RuleSet {
            rules,
            by_type,
            any_type,
            context: context_mask,
            command: command_mask,
            defs: Defs::default(),
        }
    }

    /// The enabled rules whose condition holds for `ev`, in definition order.
    pub fn matching<'s, 'e, E: FieldSource + ?Sized>(&'s self, ev: &'e E) -> Matching<'s, 'e, E> {
        self.matching_with(ev, Memo::new())
    }

    /// [`RuleSet::matching`] for an event whose context an earlier event
    /// shared: `known` is what [`Matching::context`] said after that
    /// event's matching, on this same set (a memo from another set, or
    /// from an event of another context, gives wrong answers).
    pub fn matching_from<'s, 'e, E: FieldSource + ?Sized>(
        &'s self,
        ev: &'e E,
        known: &ContextMemo,
    ) -> Matching<'s, 'e, E> {
        self.matching_with(ev, Memo::from_context(known))
    }

    fn matching_with<'s, 'e, E: FieldSource + ?Sized>(
        &'s self,
        ev: &'e E,
        memo: Memo,
    ) -> Matching<'s, 'e, E> {
        let bucket = self.by_type.get(ev.evt_type()).unwrap_or(&self.any_type);
        Matching {
            set: self,
            ev,
            next: bucket.candidates(ev),
            memo,
        }
    }

    /// Of what a matching learnt about a context ([`Matching::context`]),
    /// what holds for every context of the same command
    /// ([`LoadOptions::command_fields`]): a memo [`RuleSet::matching_from`]
    /// may start from for the first event of another context of it.
    pub fn command_part(&self, known: &ContextMemo) -> ContextMemo {
        known.masked(&self.command)
    }

    /// How many enabled rules can match an event of this type (before the
    /// split by field value narrows them further).
    pub fn candidates_for(&self, evt_type: &str) -> usize {
        self.by_type
            .get(evt_type)
            .map_or(self.any_type.len(), Bucket::len)
    }

    /// Every compiled rule, enabled or not, in definition order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Every field the enabled rules read in their conditions or outputs
    /// (each once), e.g. for an agent that must sample
    /// `container.fork_rate[10s]` before a rule can ask for it.
    pub fn fields_used(&self) -> Vec<Field> {
        let mut out: Vec<Field> = Vec::new();
        for r in self.rules.iter().filter(|r| r.enabled) {
            let mut add = |f: &Field| {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            };
            r.expr.fields(&mut add);
            r.output.named_fields().for_each(&mut add);
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

// The agent shares one rule set across tasks and swaps it on SIGHUP.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<RuleSet>();
    send_sync::<RulesError>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{StrPred, Test};
    use crate::{LoadOptions, RuleSource};

    /// The checks of a one-rule set's condition, in evaluation order.
    fn checks(cond: &str) -> Vec<String> {
        let text =
            format!("- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: {cond}\n");
        let (mut set, _) =
            RuleSet::load(&[RuleSource::new("t.yaml", text)], &LoadOptions::default()).unwrap();
        let mut out = Vec::new();
        set.rules[0].expr.checks_mut(&mut |c| {
            out.push(match &c.test {
                Test::Str {
                    pred: StrPred::Any(v),
                    ..
                } => format!("{} any of {}", c.field.name(), v.len()),
                Test::Str {
                    pred: StrPred::Substrings(_),
                    ..
                } => format!("{} substrings", c.field.name()),
                _ => c.field.name(),
            })
        });
        out
    }

    #[test]
    fn an_or_of_string_tests_on_one_field_is_one_check() {
        assert_eq!(
            checks(
                "evt.type = execve and (proc.exepath startswith /tmp/ or proc.exepath glob /dev/shm/* \
                 or proc.name = x or proc.cmdline icontains a or proc.cmdline icontains b)"
            ),
            ["proc.name", "proc.exepath any of 2", "proc.cmdline substrings", "evt.type"]
        );
        // Equality and evt.type stay single: the indexes read them.
        assert_eq!(
            checks(
                "(evt.type = execve or evt.type = execveat) and (proc.name = a or proc.name = b)"
            ),
            ["proc.name", "proc.name", "evt.type", "evt.type"]
        );
    }
}
