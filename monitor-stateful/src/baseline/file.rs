//! The on-disk baseline format: one TOML file per image.
//!
//! [`render`] writes a fixed layout (header comment, image and mode, then one
//! `[[exe]]` table per executable, sorted by path, with sorted parents and
//! argv shapes, one per line), so re-exporting an unchanged baseline gives a
//! byte-identical file and a changed one gives a small diff. [`parse`] reads
//! it back with `deny_unknown_fields` and checks what TOML cannot (known
//! mode, timestamps, no duplicate executables, no executable that could
//! never match); every error names `file:line:column`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use super::{ExeEntry, ImageBaseline, Mode};

#[derive(Debug, Error)]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("no baseline for image `{0}`")]
    UnknownImage(String),
}

const HEADER: &str = "\
# vigil process baseline. Every executable below ran in this image while its
# baseline was learning; review them before committing this file.
# argv placeholders: <num> <hex> <uuid> <ip> <tmp> <more> (docs/baselines.md).
# listen: the ports the image listened on, tcp/PORT or udp/PORT.
";

/// The file text of one baseline.
pub fn render(b: &ImageBaseline) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let _ = writeln!(out, "image = {}", quote(&b.image));
    match b.mode {
        Mode::Enforcing => out.push_str("mode = \"enforcing\"\n"),
        Mode::Learning { since, until } => {
            out.push_str("mode = \"learning\"\n");
            let _ = writeln!(out, "learning_since = {}", quote(&format_rfc3339(since)));
            let _ = writeln!(out, "learning_until = {}", quote(&format_rfc3339(until)));
        }
    }
    if !b.listen.is_empty() {
        out.push_str("listen = [\n");
        for p in &b.listen {
            let _ = writeln!(out, "    {},", quote(p));
        }
        out.push_str("]\n");
    }
    for (path, e) in &b.exes {
        let _ = write!(out, "\n[[exe]]\npath = {}\n", quote(path));
        if e.any_parent {
            out.push_str("any_parent = true\n");
        } else {
            out.push_str("parents = [\n");
            for p in &e.parents {
                let _ = writeln!(out, "    {},", quote(p));
            }
            out.push_str("]\n");
        }
        if e.any_argv {
            out.push_str("any_argv = true\n");
        } else {
            out.push_str("argv = [\n");
            for shape in &e.argv {
                let words: Vec<String> = shape.iter().map(|w| quote(w)).collect();
                let _ = writeln!(out, "    [{}],", words.join(", "));
            }
            out.push_str("]\n");
        }
    }
    out
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(q, "\\u{:04X}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    image: Spanned<String>,
    mode: Spanned<String>,
    learning_since: Option<Spanned<String>>,
    learning_until: Option<Spanned<String>>,
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    #[serde(default)]
    exe: Vec<Spanned<ExeRepr>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExeRepr {
    path: Spanned<String>,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    any_parent: bool,
    #[serde(default)]
    argv: Vec<Vec<String>>,
    #[serde(default)]
    any_argv: bool,
}

/// Parses one baseline file's text; `path` is only used in errors.
pub fn parse(text: &str, path: &Path) -> Result<ImageBaseline, BaselineError> {
    let err = |span: Option<Range<usize>>, message: String| {
        let (line, column) = line_col(text, span.map_or(0, |s| s.start));
        BaselineError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let repr: FileRepr =
        toml::from_str(text).map_err(|e| err(e.span(), e.message().trim().to_owned()))?;
    if repr.image.get_ref().trim().is_empty() {
        return Err(err(Some(repr.image.span()), "`image` is empty".into()));
    }
    let time = |field: &Option<Spanned<String>>, name: &str| match field {
        None => Err(err(
            Some(repr.mode.span()),
            format!("mode \"learning\" needs `{name}`"),
        )),
        Some(s) => parse_rfc3339(s.get_ref()).ok_or_else(|| {
            err(
                Some(s.span()),
                format!("`{name}` is not a UTC time like \"2024-05-01T12:00:00Z\""),
            )
        }),
    };
    let mode = match repr.mode.get_ref().as_str() {
        "enforcing" => Mode::Enforcing,
        "learning" => Mode::Learning {
            since: time(&repr.learning_since, "learning_since")?,
            until: time(&repr.learning_until, "learning_until")?,
        },
        other => {
            return Err(err(
                Some(repr.mode.span()),
                format!("unknown mode \"{other}\": expected \"learning\" or \"enforcing\""),
            ))
        }
    };
    let mut listen = std::collections::BTreeSet::new();
    for p in &repr.listen {
        let valid = p.get_ref().split_once('/').is_some_and(|(proto, port)| {
            matches!(proto, "tcp" | "udp") && port.parse::<u16>().is_ok_and(|n| n > 0)
        });
        if !valid {
            return Err(err(
                Some(p.span()),
                format!(
                    "listening port \"{}\" is not like \"tcp/8080\" or \"udp/53\"",
                    p.get_ref()
                ),
            ));
        }
        listen.insert(p.get_ref().clone());
    }
    let mut exes = BTreeMap::new();
    for spanned in repr.exe {
        let span = spanned.span();
        let e = spanned.into_inner();
        let exe_path = e.path.get_ref();
        if exe_path.is_empty() {
            return Err(err(Some(e.path.span()), "`path` is empty".into()));
        }
        if exes.contains_key(exe_path) {
            return Err(err(
                Some(e.path.span()),
                format!("executable {exe_path} is listed twice"),
            ));
        }
        if !e.any_parent && e.parents.is_empty() {
            return Err(err(
                Some(span),
                format!(
                    "executable {exe_path} has no `parents`: list them or set `any_parent = true`"
                ),
            ));
        }
        if !e.any_argv && e.argv.is_empty() {
            return Err(err(
                Some(span),
                format!("executable {exe_path} has no `argv` shapes: list them or set `any_argv = true`"),
            ));
        }
        let entry = ExeEntry {
            parents: if e.any_parent {
                Default::default()
            } else {
                e.parents.into_iter().collect()
            },
            any_parent: e.any_parent,
            argv: if e.any_argv {
                Default::default()
            } else {
                e.argv.into_iter().collect()
            },
            any_argv: e.any_argv,
        };
        exes.insert(exe_path.clone(), entry);
    }
    Ok(ImageBaseline {
        image: repr.image.into_inner(),
        mode,
        exes,
        listen,
    })
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A file name for `image`: unsafe characters become `_`.
fn file_stem(image: &str) -> String {
    let s: String = image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() {
        "_".to_owned()
    } else {
        s.to_owned()
    }
}

pub(super) fn export<'a>(
    baselines: impl Iterator<Item = &'a ImageBaseline>,
    dir: &Path,
) -> Result<Vec<PathBuf>, BaselineError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BaselineError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut used = std::collections::HashSet::new();
    let mut written = Vec::new();
    for b in baselines {
        let stem = file_stem(&b.image);
        // Distinct images may sanitise to one name (`a/b`, `a:b`): number
        // the later ones. Images come in sorted order, so this is stable.
        let mut name = format!("{stem}.toml");
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = format!("{stem}-{n}.toml");
            n += 1;
        }
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(render(b).as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

pub(super) fn import(dir: &Path) -> Result<Vec<ImageBaseline>, BaselineError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BaselineError::Io { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let p = entry.map_err(io(dir))?.path();
        if p.extension().is_some_and(|e| e == "toml") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut out = Vec::new();
    for p in files {
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        let b = parse(&text, &p)?;
        if let Some(other) = seen.get(&b.image) {
            let offset = text.find("image").unwrap_or(0);
            let (line, column) = line_col(&text, offset);
            return Err(BaselineError::Invalid {
                path: p.clone(),
                line,
                column,
                message: format!(
                    "image `{}` is already defined in {}",
                    b.image,
                    other.display()
                ),
            });
        }
        seen.insert(b.image.clone(), p);
        out.push(b);
    }
    Ok(out)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of unix seconds.
pub fn format_rfc3339(unix: u64) -> String {
    let secs = i64::try_from(unix).unwrap_or(i64::MAX);
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::MAX)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ` (UTC only, no fractions): the
/// one form this file writes, so a reviewer's edit in another form is an
/// error rather than a silent reinterpretation.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || !b[0].is_ascii_digit() || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let t: jiff::Timestamp = s.parse().ok()?;
    u64::try_from(t.as_second()).ok()
}

#[cfg(test)]
mod tests;
