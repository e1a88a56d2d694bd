//! Resource fields: numbers the agent samples per container, per host and
//! per UID (`container.fork_rate[10s]`, `container.pids.usage_pct`,
//! `host.psi.cpu.some_pct[60s]`, `user.nproc`), with their window rules.
//!
//! A resource field resolves to [`FieldId::Resource`] whose argument is the
//! canonical text (`name[window]`), so the agent can store each value under
//! that text on its periodic `container_stats` event and a replay reads back
//! the same numbers. Windows are `<number><ms|s|m|h>`, between
//! [`MIN_WINDOW_MS`] and [`MAX_WINDOW_MS`] (two 1 s sampling intervals up to
//! the sampler's 90 s history).

use super::{Field, FieldArg, FieldId, FieldType, Lookup};

/// Whether a field takes a `[window]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// A rate or count over a window: required.
    Required,
    /// A gauge: the latest value, or its maximum over the window.
    Optional,
    /// A plain value.
    No,
}

/// Shortest window: two sampling intervals.
pub const MIN_WINDOW_MS: u64 = 2_000;
/// Longest window: the sampler's history.
pub const MAX_WINDOW_MS: u64 = 90_000;

/// Every resource field and its window use (docs/resources.md has units).
pub const FIELDS: &[(&str, Window)] = &[
    ("container.fork_rate", Window::Required),
    ("container.failed_fork_rate", Window::Required),
    ("container.emfile_rate", Window::Required),
    ("container.oom_kills", Window::Required),
    ("container.cpu.pct", Window::Required),
    ("container.cpu.quota_pct", Window::Required),
    ("container.cpu.host_pct", Window::Required),
    ("container.cpu.throttled_pct", Window::Required),
    ("container.memory.usage_pct", Window::Optional),
    ("container.memory.usage", Window::Optional),
    ("container.memory.limit", Window::No),
    ("container.pids.usage_pct", Window::Optional),
    ("container.pids.current", Window::Optional),
    ("container.pids.max", Window::No),
    ("container.psi.cpu.some_pct", Window::Required),
    ("container.psi.cpu.full_pct", Window::Required),
    ("container.psi.memory.some_pct", Window::Required),
    ("container.psi.memory.full_pct", Window::Required),
    ("container.psi.io.some_pct", Window::Required),
    ("container.psi.io.full_pct", Window::Required),
    ("host.psi.cpu.some_pct", Window::Required),
    ("host.psi.cpu.full_pct", Window::Required),
    ("host.psi.memory.some_pct", Window::Required),
    ("host.psi.memory.full_pct", Window::Required),
    ("host.psi.io.some_pct", Window::Required),
    ("host.psi.io.full_pct", Window::Required),
    ("user.nproc", Window::No),
    ("user.nproc_limit", Window::No),
    ("user.nproc_pct", Window::No),
    ("container.io.bytes_rate", Window::Required),
    ("container.io.ops_rate", Window::Required),
    ("user.inotify_uid", Window::No),
    ("user.inotify_instances", Window::No),
    ("user.inotify_instances_pct", Window::No),
    ("user.inotify_watches", Window::No),
    ("user.inotify_watches_pct", Window::No),
    ("container.net.bytes_rate", Window::Required),
    ("container.net.packets_rate", Window::Required),
    ("container.net.bytes_share", Window::Required),
    ("fs.usage_pct", Window::No),
    ("fs.fill_rate", Window::No),
    ("fs.full_in", Window::No),
    ("fs.container_bytes", Window::No),
    ("fs.container_growth", Window::No),
    ("fs.container_growth_pct", Window::No),
];

/// A window's length in milliseconds, or `None` if it is not
/// `<number><ms|s|m|h>`.
pub fn window_ms(w: &str) -> Option<u64> {
    let w = w.trim();
    let split = w.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = w.split_at(split);
    let n: u64 = n.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// The field `name[arg]` if `name` is a resource field; `None` otherwise.
pub fn lookup(name: &str, arg: Option<&str>) -> Option<Lookup> {
    let (_, use_) = FIELDS.iter().find(|(n, _)| *n == name)?;
    let text = match (use_, arg.map(str::trim)) {
        (Window::Required, None) => {
            return Some(Lookup::Unknown(format!(
                "field '{name}' needs a window, e.g. '{name}[10s]'"
            )))
        }
        (Window::No, Some(_)) => {
            return Some(Lookup::Unknown(format!("field '{name}' takes no [window]")))
        }
        (_, None) => name.to_owned(),
        (_, Some(w)) => match window_ms(w) {
            None => {
                return Some(Lookup::Unknown(format!(
                    "'{w}' is not a window of '{name}' (use e.g. 500ms, 10s, 1m)"
                )))
            }
            Some(ms) if !(MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&ms) => {
                return Some(Lookup::Unknown(format!(
                    "window '{w}' of '{name}' is outside {}s..{}s",
                    MIN_WINDOW_MS / 1000,
                    MAX_WINDOW_MS / 1000
                )))
            }
            Some(_) => format!("{name}[{w}]"),
        },
    };
    Some(Lookup::Supported(
        Field {
            id: FieldId::Resource,
            arg: FieldArg::Name(text.into()),
        },
        FieldType::Num,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str, arg: Option<&str>) -> Result<String, String> {
        match Field::lookup(name, arg) {
            Lookup::Supported(f, FieldType::Num) => Ok(f.name()),
            Lookup::Unknown(e) => Err(e),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn windows_are_checked() {
        assert_eq!(
            text("container.fork_rate", Some("10s")).unwrap(),
            "container.fork_rate[10s]"
        );
        assert_eq!(
            text("container.pids.usage_pct", None).unwrap(),
            "container.pids.usage_pct"
        );
        assert_eq!(
            text("container.pids.usage_pct", Some(" 30s ")).unwrap(),
            "container.pids.usage_pct[30s]"
        );
        assert_eq!(text("user.nproc", None).unwrap(), "user.nproc");
        assert!(text("container.fork_rate", None)
            .unwrap_err()
            .contains("needs a window"));
        assert!(text("user.nproc", Some("10s"))
            .unwrap_err()
            .contains("no [window]"));
        assert!(text("container.fork_rate", Some("10"))
            .unwrap_err()
            .contains("not a window"));
        assert!(text("container.fork_rate", Some("1s"))
            .unwrap_err()
            .contains("outside 2s..90s"));
        assert!(text("container.fork_rate", Some("2m")).is_err());
        assert_eq!(window_ms("500ms"), Some(500));
        assert_eq!(window_ms("1m"), Some(60_000));
        assert_eq!(window_ms("s"), None);
        assert!(matches!(
            Field::lookup("vigil.resource", Some("x")),
            Lookup::Unknown(_)
        ));
    }

    #[test]
    fn parses_in_conditions() {
        let f = crate::Filter::compile("container.fork_rate[10s] > 100 and user.nproc_pct >= 90");
        assert!(f.is_ok(), "{:?}", f.err());
        let bad = crate::Filter::compile("container.fork_rate > 100");
        assert!(bad.is_err());
    }
}
