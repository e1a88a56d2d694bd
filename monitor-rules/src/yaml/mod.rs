//! Read phase: turns one rule file's text into a small tree of YAML nodes,
//! each carrying its position, so later phases can point at the exact
//! `file:line:column` of a key or value. Anchors and aliases are resolved
//! here (and `<<` merge keys); nesting depth is bounded so hostile input
//! cannot exhaust the stack. Text yaml-rust2 rejects only for yaml-cpp's
//! laxer flow indentation is read again relaxed (`relax`).

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{DiagKind, Diagnostic, Pos};

mod relax;

/// Deepest nesting accepted; rule files need about five levels.
const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may copy in one file (defuses "billion laughs").
const MAX_ALIAS_NODES: usize = 100_000;

/// How a scalar was written, which decides how offsets inside its value map
/// back to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML node with the position where its content starts (0-based char
/// column as the scanner reports it; converted to 1-based in [`Node::pos`]).
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub file: u32,
    pub line: u32,
    pub col0: u32,
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(..) => "a scalar",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// The text of every loaded file, kept so positions inside multi-line
/// scalars can be recomputed on demand.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<(Arc<str>, Vec<String>)>,
}

impl SourceMap {
    pub fn add(&mut self, name: &str, text: &str) -> u32 {
        let lines = text.lines().map(str::to_owned).collect();
        self.files.push((Arc::from(name), lines));
        (self.files.len() - 1) as u32
    }

    pub fn name(&self, file: u32) -> Arc<str> {
        self.files[file as usize].0.clone()
    }

    pub fn pos(&self, file: u32, line: u32, col0: u32) -> Pos {
        Pos {
            file: self.name(file),
            line,
            col: col0 + 1,
        }
    }

    pub fn node_pos(&self, n: &Node) -> Pos {
        self.pos(n.file, n.line, n.col0)
    }

    /// Position of the character at `char_off` inside the value of scalar
    /// `n`. Exact when the value is the source text with line folds (plain,
    /// folded, literal, and quoted scalars without escapes); otherwise the
    /// last position that could be aligned, at worst the scalar's start.
    pub fn pos_in_scalar(&self, n: &Node, char_off: usize) -> Pos {
        let (value, style) = match &n.kind {
            NodeKind::Scalar(v, s) => (v, *s),
            _ => return self.node_pos(n),
        };
        let lines = &self.files[n.file as usize].1;
        let mut line = n.line as usize; // 1-based
        let mut col = n.col0 as usize;
        if matches!(style, Style::SingleQuoted | Style::DoubleQuoted) {
            col += 1;
        }
        let mut best = (line, col);
        let mut src: Vec<char> = match lines.get(line - 1) {
            Some(l) => l.chars().collect(),
            None => return self.pos(n.file, line as u32, col as u32),
        };
        for (i, c) in value.chars().enumerate() {
            let fold = c == ' ' || c == '\n';
            // Advance in the source to the char that produced `c`; folded
            // line breaks produce whitespace that has no source char.
            let found = loop {
                if col >= src.len() {
                    if fold {
                        break false;
                    }
                    line += 1;
                    col = 0;
                    match lines.get(line - 1) {
                        Some(l) => src = l.chars().collect(),
                        None => return self.pos(n.file, best.0 as u32, best.1 as u32),
                    }
                    continue;
                }
                let s = src[col];
                if s == c {
                    break true;
                }
                if s == ' ' || s == '\t' {
                    col += 1;
                    continue;
                }
                if fold {
                    break false;
                }
                // Escape sequences or doubled quotes: alignment is lost.
                return self.pos(n.file, best.0 as u32, best.1 as u32);
            };
            let here = (line, col);
            if i == char_off {
                return self.pos(n.file, here.0 as u32, here.1 as u32);
            }
            best = here;
            if found {
                col += 1;
            }
        }
        if char_off >= value.chars().count() && !value.is_empty() {
            // One past the end (e.g. "unexpected end of condition").
            return self.pos(n.file, best.0 as u32, best.1 as u32 + 1);
        }
        self.pos(n.file, best.0 as u32, best.1 as u32)
    }
}

/// Parse one file into its documents' root nodes.
pub fn read(file: u32, name: &Arc<str>, text: &str) -> Result<Vec<Node>, Diagnostic> {
    let err = match parse(file, name, text, &[]) {
        Ok(docs) => return Ok(docs),
        Err(e) => e,
    };
    // Text that yaml-rust2 accepts is never changed; only on an error is
    // it read again with short flow/quoted continuation lines indented.
    match relax::relax(text) {
        Some((relaxed, pads)) => parse(file, name, &relaxed, &pads),
        None => Err(err),
    }
}

/// `pads[line - 1]`: spaces added in front of that line before parsing.
fn parse(file: u32, name: &Arc<str>, text: &str, pads: &[u32]) -> Result<Vec<Node>, Diagnostic> {
    let mut b = Builder {
        file,
        pads,
        stack: Vec::new(),
        docs: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        error: None,
    };
    let yaml_err = |line, col0: u32, message| Diagnostic {
        pos: Pos {
            file: name.clone(),
            line,
            col: col0 + 1,
        },
        kind: DiagKind::Yaml,
        message,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, true) {
        let (line, col0) = b.at(e.marker());
        return Err(yaml_err(line, col0, format!("YAML error: {}", e.info())));
    }
    if let Some((line, col0, msg)) = b.error {
        return Err(yaml_err(line, col0, msg));
    }
    Ok(b.docs)
}

enum Open {
    Seq(Node, usize),
    Map(Node, Vec<(Node, Node)>, Option<Node>, usize),
}

struct Builder<'p> {
    file: u32,
    pads: &'p [u32],
    stack: Vec<Open>,
    docs: Vec<Node>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    error: Option<(u32, u32, String)>,
}

fn count_nodes(n: &Node, limit: usize) -> usize {
    let mut total = 1;
    match &n.kind {
        NodeKind::Scalar(..) => {}
        NodeKind::Seq(v) => {
            for c in v {
                total += count_nodes(c, limit);
                if total > limit {
                    break;
                }
            }
        }
        NodeKind::Map(p) => {
            for (k, v) in p {
                total += count_nodes(k, limit) + count_nodes(v, limit);
                if total > limit {
                    break;
                }
            }
        }
    }
    total
}

impl Builder<'_> {
    /// 1-based line and 0-based column in the original text.
    fn at(&self, m: &Marker) -> (u32, u32) {
        let line = m.line().max(1) as u32;
        let pad = self.pads.get(line as usize - 1).copied().unwrap_or(0);
        (line, (m.col() as u32).saturating_sub(pad))
    }

    fn node(&self, kind: NodeKind, m: &Marker) -> Node {
        let (line, col0) = self.at(m);
        Node {
            kind,
            file: self.file,
            line,
            col0,
        }
    }

    fn push_value(&mut self, n: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(n),
            Some(Open::Seq(seq, _)) => {
                if let NodeKind::Seq(v) = &mut seq.kind {
                    v.push(n)
                }
            }
            Some(Open::Map(_, pairs, key, _)) => match key.take() {
                None => *key = Some(n),
                Some(k) => pairs.push((k, n)),
            },
        }
    }

    fn fail(&mut self, m: &Marker, msg: &str) {
        if self.error.is_none() {
            let (line, col0) = self.at(m);
            self.error = Some((line, col0, msg.to_owned()));
        }
    }
}

/// Resolve `<<: *base` (or `<<: [*a, *b]`) merge keys: the merged
/// mappings' pairs are added unless the mapping sets the key itself
/// (earlier merged mappings win over later ones).
fn merge_keys(pairs: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge = |k: &Node| matches!(&k.kind, NodeKind::Scalar(s, Style::Plain) if s == "<<");
    if !pairs.iter().any(|(k, _)| is_merge(k)) {
        return pairs;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| is_merge(k));
    for (k, v) in merges {
        let sources = match v.kind {
            NodeKind::Seq(items) => items,
            NodeKind::Map(_) => vec![v],
            // Not a mapping: kept as an ordinary key (the schema check names it).
            _ => {
                own.push((k, v));
                continue;
            }
        };
        for src in sources {
            let NodeKind::Map(src_pairs) = src.kind else {
                continue;
            };
            for (sk, sv) in src_pairs {
                if !own
                    .iter()
                    .any(|(ok, _)| ok.as_str().is_some() && ok.as_str() == sk.as_str())
                {
                    own.push((sk, sv));
                }
            }
        }
    }
    own
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, m: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(v, style, anchor, _) => {
                let style = match style {
                    TScalarStyle::SingleQuoted => Style::SingleQuoted,
                    TScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    TScalarStyle::Literal => Style::Literal,
                    TScalarStyle::Folded => Style::Folded,
                    _ => Style::Plain,
                };
                let n = self.node(NodeKind::Scalar(v, style), &m);
                if anchor > 0 {
                    self.anchors.insert(anchor, n.clone());
                }
                self.push_value(n);
            }
            Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail(&m, "YAML nesting is too deep");
                }
                let n = self.node(NodeKind::Seq(Vec::new()), &m);
                self.stack.push(Open::Seq(n, anchor));
            }
            Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail(&m, "YAML nesting is too deep");
                }
                let n = self.node(NodeKind::Map(Vec::new()), &m);
                self.stack.push(Open::Map(n, Vec::new(), None, anchor));
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(n, anchor)) = self.stack.pop() {
                    if anchor > 0 {
                        self.anchors.insert(anchor, n.clone());
                    }
                    self.push_value(n);
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(mut n, pairs, _, anchor)) = self.stack.pop() {
                    let pairs = merge_keys(pairs);
                    // A mapping's own mark points past its first key; the
                    // first key's position is the useful one.
                    if let Some((k, _)) = pairs.first() {
                        n.line = k.line;
                        n.col0 = k.col0;
                    }
                    n.kind = NodeKind::Map(pairs);
                    if anchor > 0 {
                        self.anchors.insert(anchor, n.clone());
                    }
                    self.push_value(n);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    self.alias_nodes += count_nodes(n, MAX_ALIAS_NODES);
                    if self.alias_nodes > MAX_ALIAS_NODES {
                        return self.fail(&m, "YAML aliases expand to too many nodes");
                    }
                    let n = n.clone();
                    self.push_value(n)
                }
                None => self.fail(&m, "YAML alias refers to an unknown anchor"),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_pos(text: &str, value_of: &str, off: usize) -> (u32, u32) {
        let mut sm = SourceMap::default();
        let id = sm.add("f", text);
        let docs = read(id, &sm.name(id), text).unwrap();
        fn find<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
            match &n.kind {
                NodeKind::Map(p) => p.iter().find_map(|(k, v)| {
                    if k.as_str() == Some(key) {
                        Some(v)
                    } else {
                        find(v, key)
                    }
                }),
                NodeKind::Seq(v) => v.iter().find_map(|c| find(c, key)),
                _ => None,
            }
        }
        let n = find(&docs[0], value_of).unwrap();
        let p = sm.pos_in_scalar(n, off);
        (p.line, p.col)
    }

    #[test]
    fn positions_inside_scalars() {
        // plain, one line: "c: " is 3 chars, value starts at column 4.
        assert_eq!(scalar_pos("c: abc def\n", "c", 0), (1, 4));
        assert_eq!(scalar_pos("c: abc def\n", "c", 4), (1, 8));
        // quoted: the quote shifts by one.
        assert_eq!(scalar_pos("c: 'abc def'\n", "c", 4), (1, 9));
        assert_eq!(scalar_pos("c: \"abc def\"\n", "c", 4), (1, 9));
        // one past the end points just after the last char.
        assert_eq!(scalar_pos("c: abc\n", "c", 3), (1, 7));
        // plain multi-line.
        assert_eq!(scalar_pos("c: abc\n  def ghi\n", "c", 8), (2, 7));
        // folded and literal blocks.
        assert_eq!(scalar_pos("c: >\n  abc\n  def\n", "c", 5), (3, 4));
        assert_eq!(scalar_pos("c: |\n  abc\n    def\n", "c", 6), (3, 5));
        // escapes lose alignment but stay at or before the spot.
        assert_eq!(scalar_pos("c: \"a\\tb c\"\n", "c", 4), (1, 5));
    }
}
