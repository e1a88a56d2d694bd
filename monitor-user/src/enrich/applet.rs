//! Process names for multi-call binaries (busybox, toybox).
//!
//! The kernel names a process (`comm`) after the file its exec opened: a
//! link `/bin/cat -> busybox` gives `cat`, but `busybox cat` gives
//! `busybox`, and busybox builds that re-run their own applets through
//! `/proc/self/exe` give `exe`. Rules keyed on a tool's name would miss
//! all of those. A multi-call binary picks the applet from its argv the
//! same way every time (the basename of argv[0], or argv[1] when argv[0]
//! names the binary itself), so the agent names the process after the
//! applet that actually runs, as an analyst would, and keeps the real
//! executable in `proc.exepath`.

/// Multi-call binaries, by the basename of their executable (a suffix
/// such as `busybox.static` or `busybox-x86_64` counts too).
const MULTI_CALL: &[&str] = &["busybox", "toybox"];

/// The name the kernel gives a program it started through `/proc/self/exe`
/// or `/proc/<pid>/exe`.
const PROC_EXE: &str = "exe";

fn is_multi_call(name: &str) -> bool {
    MULTI_CALL.iter().any(|m| {
        name.strip_prefix(m)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '_']))
    })
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The applet an exec of `exepath` with `argv0` and `args` runs, when
/// `exepath` is a multi-call binary; `None` otherwise (the kernel's name
/// stands). `comm` is the kernel's name after the exec.
pub fn applet_name(
    comm: &str,
    exepath: Option<&str>,
    argv0: Option<&str>,
    args: &[String],
) -> Option<String> {
    let exe = basename(exepath?);
    if !is_multi_call(exe) {
        return None;
    }
    // A login shell's argv[0] is `-sh`.
    let first = basename(argv0.unwrap_or(comm)).trim_start_matches('-');
    let applet = if is_multi_call(first) || first.is_empty() || first == PROC_EXE {
        // `busybox cat ...`; a bare `busybox` (or `busybox --help`) is itself.
        match args.first() {
            Some(a) if !a.starts_with('-') && !a.is_empty() => basename(a),
            _ => exe,
        }
    } else {
        first
    };
    (applet != comm).then(|| applet.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(comm: &str, exepath: &str, argv: &[&str]) -> Option<String> {
        let args: Vec<String> = argv.iter().skip(1).map(|s| s.to_string()).collect();
        applet_name(comm, Some(exepath), argv.first().copied(), &args)
    }

    #[test]
    fn applets_are_named_after_what_runs() {
        // Through /proc/self/exe (busybox sh's standalone mode): argv[0] is the applet.
        assert_eq!(
            name("exe", "/bin/busybox", &["cat", "/etc/passwd"]).as_deref(),
            Some("cat")
        );
        // `busybox cat`: argv[1] is the applet.
        assert_eq!(
            name("busybox", "/bin/busybox", &["busybox", "cat", "x"]).as_deref(),
            Some("cat")
        );
        assert_eq!(
            name(
                "busybox",
                "/usr/bin/busybox.static",
                &["/usr/bin/busybox", "/bin/nc", "-l"]
            )
            .as_deref(),
            Some("nc")
        );
        // A login shell.
        assert_eq!(name("exe", "/bin/busybox", &["-sh"]).as_deref(), Some("sh"));
        assert_eq!(
            name("toybox", "/bin/toybox", &["toybox", "ls"]).as_deref(),
            Some("ls")
        );
        // A script run by busybox sh: the kernel names it after the script.
        assert_eq!(
            name("www.cgi", "/bin/busybox", &["/bin/sh", "/www/www.cgi"]).as_deref(),
            Some("sh")
        );
    }

    #[test]
    fn ordinary_names_stand() {
        // The kernel already says `cat` (a link to busybox).
        assert_eq!(name("cat", "/bin/busybox", &["cat", "x"]), None);
        // Not a multi-call binary: argv[0] is the caller's choice, not what runs.
        assert_eq!(name("bash", "/usr/bin/bash", &["nginx"]), None);
        assert_eq!(name("exe", "/usr/bin/runc", &["runc", "init"]), None);
        assert_eq!(name("busyboxd", "/usr/sbin/busyboxd", &["cat"]), None);
        assert_eq!(applet_name("exe", None, Some("cat"), &[]), None);
        // Bare busybox is busybox.
        assert_eq!(
            name("busybox", "/bin/busybox", &["busybox", "--list"]),
            None
        );
        assert_eq!(
            name("exe", "/bin/busybox", &["busybox"]).as_deref(),
            Some("busybox")
        );
    }
}
