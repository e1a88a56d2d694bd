//! `fd.name` as Falco's: an absolute path lexically normalised
//! (`/srv/../etc/passwd` is `/etc/passwd`), split into directory and file
//! name, and whether it names another process's `/proc` entry.

use crate::event::Event;

/// Does an absolute path have `.`, `..` or empty components (a trailing
/// slash aside)? One pass over the bytes: every open event asks.
pub(super) fn needs_normalising(p: &str) -> bool {
    let b = p.as_bytes();
    b.first() == Some(&b'/')
        && b.iter().enumerate().any(|(i, &c)| {
            c == b'/'
                && matches!(
                    &b[i + 1..],
                    [b'/', ..] | [b'.'] | [b'.', b'/', ..] | [b'.', b'.'] | [b'.', b'.', b'/', ..]
                )
        })
}

/// Resolve `.`, `..` and repeated slashes of an absolute path, without
/// looking at the filesystem (as Falco does for `fd.name`).
pub(super) fn normalise(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(p.len());
    for c in &parts {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `fd.name` names `/proc/<pid>/...` of a process other than the caller
/// (`self` and `thread-self` are the caller). Pids in the path are in the
/// caller's pid namespace: compared with `proc.vpid` when known, else with
/// the host pid and tid.
pub fn proc_is_other(ev: &Event, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/proc/") else {
        return false;
    };
    let comp = rest.split('/').next().unwrap_or("");
    if comp.is_empty() || !comp.bytes().all(|b| b.is_ascii_digit()) {
        return false; // self, thread-self, sys, ...
    }
    let Ok(pid) = comp.parse::<u32>() else {
        return true; // more digits than any pid: not the caller
    };
    let p = &ev.process;
    match p.vpid {
        Some(v) => pid != v,
        None => pid != p.pid && pid != p.tid,
    }
}

pub(super) fn split_path(path: &str) -> Option<(&str, &str)> {
    if !path.starts_with('/') {
        return None;
    }
    let i = path.rfind('/')?;
    let dir = if i == 0 { "/" } else { &path[..i] };
    Some((dir, &path[i + 1..]))
}
