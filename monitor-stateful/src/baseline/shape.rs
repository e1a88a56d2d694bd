//! argv "shapes": command lines with their varying parts generalised.
//!
//! Two runs of the same program rarely have identical argv: pids, ports,
//! container ids, temp file names and timestamps differ. A baseline that kept
//! literal argv would alert on every run; one that ignored argv would miss
//! `sh -c 'curl … | sh'` from a shell that normally only runs a known script.
//! A shape keeps the literal words and flags and replaces values that vary
//! with placeholders:
//!
//! | placeholder | replaces |
//! |---|---|
//! | `<num>` | a whole number or decimal (`42`, `-1`, `0.5`, `10s`, `512M`), or a run of 4+ digits inside a word (`job-20240101`) |
//! | `<hex>` | a hex id: 8+ hex digits with at least one digit and one letter, or a `0x` number; inside a word, 12+ such digits |
//! | `<uuid>` | a UUID, alone or inside a word |
//! | `<ip>` | an IPv4 address, with optional `:port` or `/prefix` |
//! | `<tmp>` | a path under `/tmp`, `/var/tmp`, `/dev/shm` or `/run/user` |
//! | `<more>` | the arguments after the first [`MAX_ARGS`] |
//!
//! `--key=value` keeps the key and shapes the value; path components are
//! shaped one by one, so `/proc/1234/status` becomes `/proc/<num>/status`.

/// Arguments kept in a shape; the rest collapse into one `<more>`.
pub const MAX_ARGS: usize = 16;

/// Placeholder for the arguments beyond [`MAX_ARGS`].
pub const MORE: &str = "<more>";

const TMP_DIRS: [&str; 4] = ["/tmp", "/var/tmp", "/dev/shm", "/run/user"];

/// The shape of a whole argv.
pub fn shape_argv<S: AsRef<str>>(argv: &[S]) -> Vec<String> {
    let mut out: Vec<String> = argv
        .iter()
        .take(MAX_ARGS)
        .map(|a| shape_arg(a.as_ref()))
        .collect();
    if argv.len() > MAX_ARGS {
        out.push(MORE.to_owned());
    }
    out
}

/// The shape of one argument.
pub fn shape_arg(arg: &str) -> String {
    if let Some(p) = whole(arg) {
        return p.to_owned();
    }
    if TMP_DIRS
        .iter()
        .any(|d| arg == *d || arg.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
    {
        return "<tmp>".to_owned();
    }
    if let Some((key, value)) = arg.split_once('=') {
        if key.starts_with('-') && !value.is_empty() {
            return format!("{key}={}", shape_arg(value));
        }
    }
    if arg.contains('/') {
        return arg
            .split('/')
            .map(|c| whole(c).map_or_else(|| shape_inner(c), str::to_owned))
            .collect::<Vec<_>>()
            .join("/");
    }
    shape_inner(arg)
}

/// The placeholder for a whole token, if it is one kind of value.
fn whole(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        None
    } else if is_uuid(s) {
        Some("<uuid>")
    } else if is_number(s) {
        Some("<num>")
    } else if is_hex_id(s, 8) {
        Some("<hex>")
    } else if is_ipv4ish(s) {
        Some("<ip>")
    } else {
        None
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `42`, `-1`, `+3`, `0.5`, `1e6`, with an optional short unit suffix
/// (`10s`, `512M`, `100ms`, `50%`).
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits_end);
    if num.is_empty()
        || !num.starts_with(|c: char| c.is_ascii_digit())
        || num.matches('.').count() > 1
    {
        return false;
    }
    matches!(
        unit,
        "" | "k"
            | "K"
            | "m"
            | "M"
            | "g"
            | "G"
            | "t"
            | "T"
            | "b"
            | "B"
            | "kb"
            | "KB"
            | "mb"
            | "MB"
            | "gb"
            | "GB"
            | "ki"
            | "Ki"
            | "Mi"
            | "Gi"
            | "ms"
            | "us"
            | "ns"
            | "s"
            | "h"
            | "d"
            | "%"
    ) || (unit.starts_with(['e', 'E'])
        && unit[1..]
            .strip_prefix(['-', '+'])
            .unwrap_or(&unit[1..])
            .bytes()
            .all(|c| c.is_ascii_digit())
        && unit.len() > 1)
}

/// All hex digits, at least `min` long, with a digit and a letter (so words
/// like `facade` and plain numbers stay apart); or `0x…`.
fn is_hex_id(s: &str, min: usize) -> bool {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit());
    }
    s.len() >= min
        && s.bytes().all(|c| c.is_ascii_hexdigit())
        && s.bytes().any(|c| c.is_ascii_digit())
        && s.bytes().any(|c| c.is_ascii_alphabetic())
}

/// `10.0.0.1`, `10.0.0.1:8080`, `10.0.0.0/8`.
fn is_ipv4ish(s: &str) -> bool {
    let addr = s.split([':', '/']).next().unwrap_or(s);
    let rest = &s[addr.len()..];
    let octets: Vec<_> = addr.split('.').collect();
    octets.len() == 4
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
        && (rest.is_empty() || (rest.len() > 1 && rest[1..].bytes().all(|c| c.is_ascii_digit())))
}

/// Generalises values embedded in a word: UUIDs, long hex runs, long digit runs.
fn shape_inner(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        // Ids are only recognised as whole alphanumeric runs, so a word that
        // merely contains hex letters (`decade2024`) is not swallowed.
        let at_boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if at_boundary {
            if i + 36 <= b.len() && s.is_char_boundary(i + 36) && is_uuid(&s[i..i + 36]) {
                out.push_str("<uuid>");
                i += 36;
                continue;
            }
            let end = i + b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            let ends_at_boundary = end == b.len() || !b[end].is_ascii_alphanumeric();
            if ends_at_boundary && is_hex_id(&s[i..end], 12) {
                out.push_str("<hex>");
                i = end;
                continue;
            }
        }
        if b[i].is_ascii_digit() {
            let end = i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if end - i >= 4 {
                out.push_str("<num>");
            } else {
                out.push_str(&s[i..end]);
            }
            i = end;
            continue;
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(argv: &[&str]) -> Vec<String> {
        shape_argv(argv)
    }

    #[test]
    fn whole_values() {
        assert_eq!(shape_arg("42"), "<num>");
        assert_eq!(shape_arg("-1"), "<num>");
        assert_eq!(shape_arg("0.75"), "<num>");
        assert_eq!(shape_arg("512M"), "<num>");
        assert_eq!(shape_arg("30s"), "<num>");
        assert_eq!(shape_arg("1e6"), "<num>");
        assert_eq!(shape_arg("3f1e2a9b"), "<hex>");
        assert_eq!(shape_arg("0x7ff0"), "<hex>");
        assert_eq!(shape_arg("123e4567-e89b-12d3-a456-426614174000"), "<uuid>");
        assert_eq!(shape_arg("10.88.0.7"), "<ip>");
        assert_eq!(shape_arg("127.0.0.1:6379"), "<ip>");
        assert_eq!(shape_arg("10.0.0.0/8"), "<ip>");
        assert_eq!(shape_arg("/tmp/tmp.Xa81bQ"), "<tmp>");
        assert_eq!(shape_arg("/dev/shm/sem.x"), "<tmp>");
        assert_eq!(shape_arg("/tmp"), "<tmp>");
    }

    #[test]
    fn literal_words_stay() {
        for w in [
            "nginx",
            "-g",
            "daemon off;",
            "python3",
            "x86_64",
            "sha256sum",
            "deadbeef",
            "facade",
            "-j4",
            "localhost:443",
            "/usr/bin/env",
            "/tmpfoo",
            "e",
            "1.2.3",
            "-",
            "--",
            "v1.25.3",
            "",
        ] {
            assert_eq!(shape_arg(w), w, "{w}");
        }
    }

    #[test]
    fn embedded_values() {
        assert_eq!(shape_arg("/proc/1234/status"), "/proc/<num>/status");
        assert_eq!(shape_arg("/proc/1/status"), "/proc/<num>/status");
        assert_eq!(shape_arg("job-20240101.log"), "job-<num>.log");
        assert_eq!(
            shape_arg("--cgroup-parent=libpod-3f1e2a9b8c7d6e5f4a3b2c1d"),
            "--cgroup-parent=libpod-<hex>"
        );
        assert_eq!(shape_arg("--workers=8"), "--workers=<num>");
        assert_eq!(shape_arg("--listen=0.0.0.0:8080"), "--listen=<ip>");
        assert_eq!(shape_arg("--pidfile=/tmp/x.pid"), "--pidfile=<tmp>");
        assert_eq!(
            shape_arg("run-123e4567-e89b-12d3-a456-426614174000.sock"),
            "run-<uuid>.sock"
        );
        assert_eq!(shape_arg("localhost:8080"), "localhost:<num>");
        // Not a boundary-aligned hex run: kept.
        assert_eq!(shape_arg("xyzabc123def456789"), "xyzabc123def<num>");
        assert_eq!(shape_arg("día-2024"), "día-<num>");
    }

    #[test]
    fn argv_shapes() {
        assert_eq!(
            sh(&["sleep", "3600"]),
            vec!["sleep".to_owned(), "<num>".to_owned()]
        );
        assert_eq!(sh(&["sleep", "1"]), sh(&["sleep", "86400"]));
        assert_ne!(sh(&["sh", "-c", "make"]), sh(&["sh", "-c", "curl x | sh"]));
        let long: Vec<String> = (0..40).map(|i| format!("file{i}.c")).collect();
        let s = shape_argv(&long);
        assert_eq!(s.len(), MAX_ARGS + 1);
        assert_eq!(s.last().unwrap(), MORE);
        assert!(shape_argv::<&str>(&[]).is_empty());
    }
}
