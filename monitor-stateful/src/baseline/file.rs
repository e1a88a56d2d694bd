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
mod tests {
    use super::super::{BaselineStore, LearnConfig};
    use super::*;

    fn sample() -> BaselineStore {
        let mut s = BaselineStore::new(LearnConfig::default());
        let t = 1_700_000_000;
        let img = "registry.example.com/shop/cart:2.1";
        s.observe(
            img,
            "/usr/local/bin/cart",
            None,
            &["cart", "--port=8080"],
            t,
        );
        s.observe(
            img,
            "/bin/sh",
            Some("/usr/local/bin/cart"),
            &["sh", "-c", "echo \"hi\"\tthere \\ ok"],
            t,
        );
        s.observe(img, "/bin/sleep", Some("/bin/sh"), &["sleep", "10"], t);
        s.observe(
            img,
            "/bin/sleep",
            Some("/usr/local/bin/cart"),
            &["sleep", "1"],
            t,
        );
        s.observe_listen(img, "tcp/8080", t);
        s.observe_listen(img, "udp/53", t);
        s.observe("alpine:3", "/bin/sh", None, &["sh"], t);
        s.finish_learning("alpine:3").unwrap();
        s
    }

    #[test]
    fn render_is_stable_and_readable() {
        let s = sample();
        let text = s.show(Some("registry.example.com/shop/cart:2.1")).unwrap();
        let expected = format!(
            "{HEADER}
image = \"registry.example.com/shop/cart:2.1\"
mode = \"learning\"
learning_since = \"2023-11-14T22:13:20Z\"
learning_until = \"2023-11-14T23:13:20Z\"
listen = [
    \"tcp/8080\",
    \"udp/53\",
]

[[exe]]
path = \"/bin/sh\"
parents = [
    \"/usr/local/bin/cart\",
]
argv = [
    [\"sh\", \"-c\", \"echo \\\"hi\\\"\\tthere \\\\ ok\"],
]

[[exe]]
path = \"/bin/sleep\"
parents = [
    \"/bin/sh\",
    \"/usr/local/bin/cart\",
]
argv = [
    [\"sleep\", \"<num>\"],
]

[[exe]]
path = \"/usr/local/bin/cart\"
parents = [
    \"<none>\",
]
argv = [
    [\"cart\", \"--port=<num>\"],
]
"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn export_import_round_trip() {
        let s = sample();
        let dir = tempfile::tempdir().unwrap();
        let files = s.export(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            vec!["alpine_3.toml", "registry.example.com_shop_cart_2.1.toml"]
        );
        let mut back = BaselineStore::new(LearnConfig::default());
        let imported = back.import(dir.path()).unwrap();
        assert_eq!(imported.len(), 2);
        for b in s.images() {
            assert_eq!(back.get(&b.image), Some(b));
        }
        // Re-export is byte-identical.
        let dir2 = tempfile::tempdir().unwrap();
        back.export(dir2.path()).unwrap();
        for n in &names {
            assert_eq!(
                std::fs::read(dir.path().join(n)).unwrap(),
                std::fs::read(dir2.path().join(n)).unwrap()
            );
        }
    }

    #[test]
    fn colliding_file_names_are_numbered() {
        let mut s = BaselineStore::new(LearnConfig::default());
        s.observe("a/b", "/x", None, &["x"], 0);
        s.observe("a:b", "/x", None, &["x"], 0);
        let dir = tempfile::tempdir().unwrap();
        let files = s.export(dir.path()).unwrap();
        assert_eq!(files[0].file_name().unwrap(), "a_b.toml");
        assert_eq!(files[1].file_name().unwrap(), "a_b-2.toml");
        let mut back = BaselineStore::default();
        assert_eq!(back.import(dir.path()).unwrap().len(), 2);
    }

    fn bad(text: &str) -> (usize, usize, String) {
        match parse(text, Path::new("x.toml")) {
            Err(BaselineError::Invalid {
                line,
                column,
                message,
                path,
            }) => {
                assert_eq!(path, Path::new("x.toml"));
                (line, column, message)
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    const GOOD_EXE: &str =
        "[[exe]]\npath = \"/bin/sh\"\nparents = [\"<none>\"]\nargv = [[\"sh\"]]\n";

    #[test]
    fn bad_files_name_the_line() {
        // TOML syntax error.
        let (l, _, m) = bad("image = \"x\"\nmode = \"enforcing\"\n[[exe]\n");
        assert_eq!(l, 3, "{m}");
        // Unknown key (typo).
        let (l, _, m) = bad(&format!(
            "image = \"x\"\nmode = \"enforcing\"\n{GOOD_EXE}parent = [\"a\"]\n"
        ));
        assert_eq!(l, 7, "{m}");
        assert!(m.contains("parent"), "{m}");
        // Bad mode.
        let (l, c, m) = bad("image = \"x\"\nmode = \"enforce\"\n");
        assert_eq!((l, c), (2, 8));
        assert!(m.contains("unknown mode"), "{m}");
        // Learning without times.
        let (l, _, m) = bad("image = \"x\"\nmode = \"learning\"\n");
        assert_eq!(l, 2);
        assert!(m.contains("learning_since"), "{m}");
        // Bad time.
        let (l, _, m) = bad(
            "image = \"x\"\nmode = \"learning\"\nlearning_since = \"2024-02-30T00:00:00Z\"\nlearning_until = \"2024-03-01T00:00:00Z\"\n",
        );
        assert_eq!(l, 3, "{m}");
        // Duplicate executable.
        let (l, _, m) = bad(&format!(
            "image = \"x\"\nmode = \"enforcing\"\n{GOOD_EXE}\n{GOOD_EXE}"
        ));
        assert_eq!(l, 9, "{m}");
        assert!(m.contains("twice"), "{m}");
        // An executable that could never match.
        let (l, _, m) = bad("image = \"x\"\nmode = \"enforcing\"\n\n[[exe]]\npath = \"/bin/sh\"\nargv = [[\"sh\"]]\n");
        assert!(m.contains("no `parents`"), "{m}");
        assert!((4..=6).contains(&l), "{l}");
        // Wrong type.
        let (l, _, m) = bad("image = \"x\"\nmode = \"enforcing\"\n[[exe]]\npath = \"/a\"\nparents = \"/bin/sh\"\nargv = [[\"a\"]]\n");
        assert_eq!(l, 5, "{m}");
        // A listening port that is not PROTO/PORT.
        let (l, c, m) =
            bad("image = \"x\"\nmode = \"enforcing\"\nlisten = [\"tcp/80\", \"sctp/9\"]\n");
        assert_eq!((l, c), (3, 21), "{m}");
        assert!(m.contains("\"sctp/9\""), "{m}");
        let (l, _, m) = bad("image = \"x\"\nmode = \"enforcing\"\nlisten = [\"tcp/0\"]\n");
        assert_eq!(l, 3, "{m}");
        // Missing image.
        let (_, _, m) = bad("mode = \"enforcing\"\n");
        assert!(m.contains("image"), "{m}");
    }

    #[test]
    fn duplicate_image_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("image = \"x\"\nmode = \"enforcing\"\n{GOOD_EXE}");
        std::fs::write(dir.path().join("a.toml"), &text).unwrap();
        std::fs::write(dir.path().join("b.toml"), &text).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let mut s = BaselineStore::default();
        let e = s.import(dir.path()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("b.toml:1:1") && msg.contains("a.toml"),
            "{msg}"
        );
        // Nothing was installed.
        assert!(s.get("x").is_none());
        assert!(matches!(
            s.import(&dir.path().join("missing")),
            Err(BaselineError::Io { .. })
        ));
    }

    #[test]
    fn hand_edited_any_flags() {
        let b = parse(
            "image = \"x\"\nmode = \"enforcing\"\n[[exe]]\npath = \"/usr/bin/cc\"\nany_parent = true\nany_argv = true\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert!(b.exes["/usr/bin/cc"].any_argv);
        assert!(render(&b).contains("any_parent = true\nany_argv = true\n"));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
        for bad in [
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00+01:00",
            "+024-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
