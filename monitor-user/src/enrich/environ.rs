//! `proc.env` and `proc.aenv`: a process's environment, read by the
//! kernel at exec (`enrich::startup`; where it cannot, from procfs,
//! `/proc/<pid>/environ`, when the agent handles the exec) and from
//! procfs when the agent seeds the process table, kept in the table (a
//! fork shares its parent's) and carried by events with their ancestors'.
//!
//! `environ` is the environment the program was started with (later
//! `setenv` calls do not show, as in Falco). At most [`ENV_MAX`] bytes
//! are read, Falco's own bound: environments are shared by every event of
//! a process and its children, and are mostly inherited unchanged, which
//! [`Ancestor::env`](crate::event::Ancestor) takes advantage of.

use std::io::Read;
use std::path::Path;

use crate::event::text::{escape, is_plain_ascii};
use crate::event::Env;

/// Bytes of `environ` read at most (the kernel's bound too).
pub const ENV_MAX: usize = monitor_common::ENV_LEN;

/// The environment of the process whose procfs directory is `proc_dir`
/// (`/proc/<pid>`), and whether it was cut at [`ENV_MAX`] (the last,
/// partial entry is dropped); `None` when it cannot be read (the process
/// is gone). A kernel thread's is empty.
pub fn read(proc_dir: &Path) -> Option<(Env, bool)> {
    let f = std::fs::File::open(proc_dir.join("environ")).ok()?;
    let mut buf = Vec::with_capacity(1024);
    f.take(ENV_MAX as u64 + 1).read_to_end(&mut buf).ok()?;
    let cut = buf.len() > ENV_MAX;
    Some(parse(&buf[..buf.len().min(ENV_MAX)], cut))
}

/// Split a raw `environ` (NUL-separated); one that was `cut` short loses
/// its incomplete last entry. Returns the entries and `cut`.
pub fn parse(raw: &[u8], cut: bool) -> (Env, bool) {
    (entries(raw, cut).map(escape).collect(), cut)
}

/// [`parse`], giving back `like` itself when the entries are its: a
/// program exec'd with the environment it was forked with (any but a
/// shell's children, whose `_=` differs) then shares its parent's
/// instead of a copy, and its events' ancestry sees at once that the
/// parent's is the same ([`crate::enrich::proctable::ProcTable::ancestry`]).
pub fn parse_like(raw: &[u8], cut: bool, like: Option<&Env>) -> (Env, bool) {
    match like {
        Some(like) if laid_out_as(raw, cut, like) => (like.clone(), cut),
        _ => parse(raw, cut),
    }
}

/// Whether `raw` is `like`'s entries each followed by a NUL (then, when
/// `cut`, the partial entry the bound left), all plain ASCII, which
/// [`parse`] would give back unchanged. Compares whole entries rather
/// than splitting `raw` byte by byte: this runs for every exec. Any other
/// layout (empty entries, no final NUL) is left to `parse`.
fn laid_out_as(raw: &[u8], cut: bool, like: &[String]) -> bool {
    let mut rest = raw;
    for e in like.iter().map(String::as_bytes) {
        match rest.strip_prefix(e).and_then(|r| r.split_first()) {
            Some((0, after)) if !e.is_empty() && is_plain_ascii(e) => rest = after,
            _ => return false,
        }
    }
    rest.is_empty() || (cut && !rest.contains(&0))
}

/// The entries of a raw `environ`, without the incomplete last one of an
/// environment `cut` short.
fn entries(raw: &[u8], cut: bool) -> impl Iterator<Item = &[u8]> {
    let mut used = raw;
    if cut {
        // Keep whole entries only.
        used = match used.iter().rposition(|&b| b == 0) {
            Some(end) => &used[..end],
            None => &[],
        };
    }
    let used = used.strip_suffix(&[0]).unwrap_or(used);
    used.split(|&b| b == 0).filter(|e| !e.is_empty())
}

/// The value of `name` in `env` (`proc.env[NAME]`).
pub fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    let n = name.len();
    env.iter().find_map(|e| {
        // The '=' where the name would end rules out most entries before
        // any comparison (rules ask on every event; environments are long).
        let b = e.as_bytes();
        // Slicing at `n + 1` is safe: the byte at `n` is the ASCII '='.
        (b.get(n) == Some(&b'=') && &b[..n] == name.as_bytes()).then(|| &e[n + 1..])
    })
}

/// `proc.env` as Falco prints it: the entries joined by spaces.
pub fn joined(env: &[String]) -> String {
    env.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_looks_up_entries() {
        let (env, cut) = parse(
            b"HOME=/root\0SHELL=/bin/sh\0SHELL_NEW=/bin/bash\0EMPTY=\0",
            false,
        );
        assert!(!cut);
        assert_eq!(
            joined(&env),
            "HOME=/root SHELL=/bin/sh SHELL_NEW=/bin/bash EMPTY="
        );
        assert_eq!(lookup(&env, "SHELL"), Some("/bin/sh"));
        assert_eq!(lookup(&env, "SHELL_NEW"), Some("/bin/bash"));
        assert_eq!(lookup(&env, "EMPTY"), Some(""));
        assert_eq!(lookup(&env, "SHEL"), None);
        assert_eq!(lookup(&env, "HOME=/root"), None);
        let env = ["ÉTAT=prêt".to_string(), "É=1".to_string()];
        assert_eq!(lookup(&env, "ÉTAT"), Some("prêt"));
        assert_eq!(lookup(&env, "É"), Some("1"));
        assert_eq!(lookup(&env, "\u{c9}T"), None);
        let (env, _) = parse(b"", false);
        assert!(env.is_empty());
        // Non-UTF-8 and control bytes are escaped, as everywhere.
        let (env, _) = parse(b"X=\xff\x01\0", false);
        assert_eq!(env.len(), 1);
        assert!(
            env[0].starts_with("X=") && !env[0].contains('\u{1}'),
            "{}",
            env[0]
        );
    }

    #[test]
    fn an_unchanged_environment_is_shared_not_copied() {
        let (parent, _) = parse(b"HOME=/root\0PATH=/bin\0", false);
        let like = Some(&parent);
        let (same, _) = parse_like(b"HOME=/root\0PATH=/bin\0", false, like);
        assert!(std::sync::Arc::ptr_eq(&same, &parent));
        // One entry more, one fewer, or one changed: each its own.
        for raw in [
            &b"HOME=/root\0PATH=/bin\0_=/bin/ls\0"[..],
            b"HOME=/root\0",
            b"HOME=/root\0PATH=/usr/bin\0",
            b"HOME=/root\0PATH=/bin\\x41\0",
        ] {
            let (env, _) = parse_like(raw, false, like);
            assert!(!std::sync::Arc::ptr_eq(&env, &parent));
            assert_eq!(env, parse(raw, false).0);
        }
        // Raw bytes that only read like an escaped entry are not it.
        let (escaped, _) = parse(b"X=\x01\0", false);
        let (env, _) = parse_like(escaped[0].as_bytes(), false, Some(&escaped));
        assert!(!std::sync::Arc::ptr_eq(&env, &escaped), "{escaped:?}");
        assert_eq!(env, parse(escaped[0].as_bytes(), false).0);
        assert_eq!(parse_like(b"", false, None), parse(b"", false));
        // Cut at the bound: the partial last entry is not one, so the
        // rest is still the parent's.
        let (env, cut) = parse_like(b"HOME=/root\0PATH=/bin\0LA", true, like);
        assert!(cut && std::sync::Arc::ptr_eq(&env, &parent));
        // Layouts that give the same entries another way (no final NUL,
        // an empty entry) are parsed anew: the same value, not shared.
        for (raw, cut) in [
            (&b"HOME=/root\0PATH=/bin"[..], false),
            (b"HOME=/root\0\0PATH=/bin\0", false),
            (b"HOME=/root\0PATH=/bin\0\0LA", true),
        ] {
            let (env, _) = parse_like(raw, cut, like);
            assert_eq!(env, parent, "{raw:?}");
            assert!(!std::sync::Arc::ptr_eq(&env, &parent), "{raw:?}");
        }
        // An entry the parent has as a prefix of one of the child's.
        let (env, _) = parse_like(b"HOME=/rootX\0PATH=/bin\0", false, like);
        assert_eq!(env[0], "HOME=/rootX");
    }

    #[test]
    fn keeps_whole_entries_within_the_bound() {
        let mut raw = Vec::new();
        for i in 0..1000 {
            raw.extend_from_slice(format!("VAR{i}=value\0").as_bytes());
        }
        let (env, cut) = parse(&raw[..ENV_MAX], true);
        assert!(cut);
        assert!(env.iter().map(|e| e.len() + 1).sum::<usize>() <= ENV_MAX);
        assert!(env.iter().all(|e| e.ends_with("=value")));
        assert_eq!(env[0], "VAR0=value");
    }

    #[test]
    fn reads_a_live_process_environment() {
        let dir = crate::testutil::TempDir::new("environ");
        let root = dir.path();
        std::fs::create_dir_all(root.join("5")).unwrap();
        std::fs::write(root.join("5/environ"), b"A=1\0B=two words\0").unwrap();
        let (env, cut) = read(&root.join("5")).unwrap();
        assert_eq!(
            (&*env, cut),
            (&["A=1".to_owned(), "B=two words".to_owned()][..], false)
        );
        assert!(read(&root.join("6")).is_none());
        // This test's own process: its PATH is in there.
        let (env, _) = read(Path::new("/proc/self")).unwrap();
        let path = std::env::var("PATH").unwrap();
        if path.len() < ENV_MAX / 2 {
            assert!(env.iter().any(|e| e.starts_with("PATH=")));
        }
    }
}
