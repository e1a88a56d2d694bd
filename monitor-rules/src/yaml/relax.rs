//! yaml-cpp (Falco's YAML parser) accepts flow collections and quoted
//! scalars whose continuation lines are indented less than YAML requires:
//!
//! ```yaml
//! - list: shell_binaries
//!   items: [
//!   ash, bash,
//! ]
//! ```
//!
//! yaml-rust2 rejects those lines ("invalid indentation"). Inside a flow
//! collection or a quoted scalar, leading whitespace on a continuation line
//! carries no meaning (it is folded away), so such lines are indented just
//! enough before parsing; the number of spaces added per line is kept to
//! map parser positions back to the original text.

/// The text with short continuation lines indented, and the spaces added
/// to each line (0-based), or `None` when nothing needed changing (the
/// common case: no copy).
pub(crate) fn relax(text: &str) -> Option<(String, Vec<u32>)> {
    let mut st = Scan::default();
    let mut pads: Vec<u32> = Vec::new();
    let mut changed = false;
    for line in text.split('\n') {
        let pad = st.line(line);
        changed |= pad > 0;
        pads.push(pad as u32);
    }
    if !changed {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.extend(std::iter::repeat_n(' ', pads[i] as usize));
        out.push_str(line);
    }
    Some((out, pads))
}

#[derive(Default)]
struct Scan {
    /// Open `[`/`{` nesting.
    flow: usize,
    /// Inside a quoted scalar that continues on the next line.
    quote: Option<char>,
    /// Continuation lines must start at least at this column.
    min_col: usize,
    /// Inside a block scalar (`|`, `>`) whose key is at this column: its
    /// lines are text, not structure.
    block: Option<usize>,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Column of a line's first key or value: after the indentation and any
/// `- ` sequence-entry markers.
fn content_col(line: &str) -> usize {
    let mut i = indent_of(line);
    let b = line.as_bytes();
    while i + 1 < b.len() && b[i] == b'-' && b[i + 1] == b' ' {
        i += 2;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
    }
    i
}

impl Scan {
    /// Scan one line; returns the spaces to add in front of it.
    fn line(&mut self, line: &str) -> usize {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let indent = indent_of(line);
        let blank = line.trim().is_empty();
        if let Some(key_col) = self.block {
            if blank || indent > key_col {
                return 0;
            }
            self.block = None;
        }
        let continuation = self.flow > 0 || self.quote.is_some();
        // A closing bracket at the key's own column passes yaml-rust2 after
        // a plain item but not after a quoted one: it goes deeper too.
        let min = self.min_col;
        let pad = if continuation && !blank && indent < min {
            min - indent
        } else {
            0
        };
        if !continuation {
            self.min_col = content_col(line) + 1;
        }
        self.scan(line, indent);
        pad
    }

    fn scan(&mut self, line: &str, start: usize) {
        let b = line.as_bytes();
        let mut i = start;
        // At the start of a node (where `[`, `{`, quotes and block
        // indicators have their special meaning).
        let mut at_value = true;
        while i < b.len() {
            let c = b[i];
            if let Some(q) = self.quote {
                if q == '"' && c == b'\\' {
                    i += 2;
                    continue;
                }
                if c == q as u8 {
                    if q == '\'' && b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    self.quote = None;
                    at_value = false;
                }
                i += 1;
                continue;
            }
            match c {
                b' ' | b'\t' => {}
                b'#' if i == 0 || matches!(b[i - 1], b' ' | b'\t') => return,
                b'\'' | b'"' if at_value => self.quote = Some(c as char),
                b'[' | b'{' if self.flow > 0 || at_value => {
                    self.flow += 1;
                    at_value = true;
                    i += 1;
                    continue;
                }
                b']' | b'}' if self.flow > 0 => {
                    self.flow -= 1;
                    at_value = false;
                }
                b',' if self.flow > 0 => at_value = true,
                b'-' if self.flow == 0 && at_value && matches!(b.get(i + 1), Some(b' ') | None) => {
                    at_value = true;
                }
                b':' if matches!(b.get(i + 1), Some(b' ' | b'\t') | None)
                    || (self.flow > 0 && matches!(b.get(i + 1), Some(b',' | b']' | b'}'))) =>
                {
                    at_value = true;
                }
                b'|' | b'>' if self.flow == 0 && at_value => {
                    self.block = Some(content_col(line));
                    return;
                }
                _ => at_value = false,
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relax;

    /// Found by the rules fuzz target: a closing bracket in column 0 before
    /// any key underflowed the minimum column.
    #[test]
    fn a_closing_bracket_before_any_key_does_not_underflow() {
        let _ = relax("]\n*\n");
        let _ = relax("}\n");
    }

    #[test]
    fn short_flow_continuations_are_indented() {
        let t = "- list: l\n  items: [\n  a, b,\nc\n]\n- x: 1\n";
        let (out, pads) = relax(t).unwrap();
        assert_eq!(out, "- list: l\n  items: [\n   a, b,\n   c\n   ]\n- x: 1\n");
        assert_eq!(pads, [0, 0, 1, 3, 3, 0, 0]);
    }

    #[test]
    fn well_indented_text_is_left_alone() {
        assert!(relax("- list: l\n  items: [\n    a,\n    b\n   ]\n").is_none());
        assert!(relax("a: [x, y]\nb: 'it''s'\n").is_none());
    }

    #[test]
    fn brackets_in_text_do_not_open_flows() {
        // Plain and block scalars, comments and quotes contain brackets.
        let t = "- rule: r\n  condition: proc.aname[2] = x\n  desc: >\n    a [ b {\n  output: \"[x\"  # [\n  tags: [a]\n- list: l\n  items: [\nz]\n";
        let (out, pads) = relax(t).unwrap();
        assert_eq!(pads.iter().filter(|p| **p > 0).count(), 1, "{out}");
        assert!(out.ends_with("  items: [\n   z]\n"), "{out}");
    }

    #[test]
    fn quoted_continuations() {
        let t = "- rule: r\n  output: \"a\nb\"\n  desc: 'it''s\nc'\n";
        let (out, _) = relax(t).unwrap();
        assert_eq!(
            out,
            "- rule: r\n  output: \"a\n   b\"\n  desc: 'it''s\n   c'\n"
        );
    }
}
