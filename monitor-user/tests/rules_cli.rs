//! `vigil rules check` / `vigil rules list` as a user runs them: the real
//! binary, real files, exit status and printed lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../monitor-rules/tests/common/falco_file.rs"]
mod falco_file;
use falco_file::falco_rules;

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run vigil")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vigil-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

#[test]
fn check_reports_errors_with_file_line_column_and_exits_1() {
    let d = TempDir::new("bad");
    let f = d.0.join("bad.yaml");
    std::fs::write(
        &f,
        "- rule: Bad\n  desc: d\n  condition: evt.type = openat and fd.nmae = /etc/shadow\n  output: x\n  priority: WARNING\n",
    )
    .unwrap();
    let o = vigil(&["rules", "check", f.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("{}:3:36: unknown field 'fd.nmae'", f.display())),
        "{out}"
    );
    // A YAML error also names its position.
    std::fs::write(&f, "- rule: X\n  desc: [unclosed\n").unwrap();
    let o = vigil(&["rules", "check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with(&format!("{}:", f.display())),
        "{}",
        stdout(&o)
    );
}

#[test]
fn check_loads_every_rule_of_falcos_file_also_in_strict_mode() {
    let falco = falco_rules();
    let p = falco.to_str().unwrap();
    for args in [
        vec!["rules", "check", p],
        vec!["rules", "check", "--strict", p],
    ] {
        let o = vigil(&args);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {out}");
        let last = out.lines().last().unwrap();
        assert!(
            last.starts_with("ok: loaded ") && last.ends_with("skipped 0"),
            "{args:?}: {last}"
        );
    }
}

#[test]
fn check_names_where_a_rule_was_skipped_and_strict_fails_it() {
    let d = TempDir::new("skip");
    let f = d.0.join("site.yaml");
    // Falco's proc.vmrss (resident memory) has no source in vigil.
    std::fs::write(
        &f,
        "- rule: Big process\n  desc: d\n  condition: evt.type = accept and proc.vmrss > 100000\n  output: x\n  priority: WARNING\n",
    )
    .unwrap();
    let p = f.to_str().unwrap();
    let o = vigil(&["rules", "check", p]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let skips: Vec<&str> = out.lines().filter(|l| l.contains("skipped:")).collect();
    assert_eq!(skips.len(), 1, "{out}");
    assert!(skips[0].starts_with(&format!("{p}:")), "{}", skips[0]);
    assert!(skips[0].contains("proc.vmrss"), "{}", skips[0]);
    let last = out.lines().last().unwrap();
    assert!(last.contains("skipped 1"), "{last}");
    let o = vigil(&["rules", "check", "--strict", p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).lines().last().unwrap().ends_with("error(s)"));
}

#[test]
fn check_of_the_default_rules_is_clean() {
    let o = vigil(&["rules", "check", "--strict", repo_rules().to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // Besides the summary, only the notes on the three default rules the
    // open filter serves in part (docs/rules.md).
    let (notes, rest): (Vec<&str>, Vec<&str>) =
        out.lines().partition(|l| l.contains(": note: rule '"));
    assert_eq!(rest.len(), 1, "{out}");
    assert_eq!(notes.len(), 3, "{out}");
    for rule in [
        "Write to host system path through a mount in container",
        "Cloud or SSH credentials read in container",
        "Host credential file read through a mount in container",
    ] {
        assert!(
            notes.iter().any(|l| l.contains(&format!("'{rule}'"))),
            "{out}"
        );
    }
    assert!(out.contains("skipped 0"), "{out}");
}

#[test]
fn check_with_defaults_accepts_files_using_default_macros() {
    let d = TempDir::new("withdefs");
    let f = d.0.join("local.yaml");
    std::fs::write(
        &f,
        "- rule: Local\n  desc: d\n  condition: vigil_spawned_process and vigil_container and proc.name = htop\n  output: x\n  priority: NOTICE\n  tags: [recon, T1057]\n",
    )
    .unwrap();
    let p = f.to_str().unwrap();
    assert_eq!(vigil(&["rules", "check", p]).status.code(), Some(1));
    let o = vigil(&["rules", "check", "--with-defaults", p]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn list_shows_the_defaults_and_extra_files() {
    let o = vigil(&["rules", "list"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.starts_with("RULE"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("Read of shadow or sudoers file in container"))
        .expect("shadow rule listed");
    assert!(
        line.contains("Warning") && line.contains("credential-access,T1003.008"),
        "{line}"
    );

    let d = TempDir::new("list");
    let f = d.0.join("off.yaml");
    std::fs::write(&f, "- rule: Kexec load\n  enabled: false\n").unwrap();
    let o = vigil(&["rules", "list", "--rules", f.to_str().unwrap()]);
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("Kexec load")).unwrap();
    assert!(line.contains("disabled"), "{line}");

    let o = vigil(&[
        "rules",
        "list",
        "--no-default-rules",
        "--rules",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

#[test]
fn check_names_rules_that_load_but_watch_unhooked_syscalls() {
    let falco = falco_rules();
    let o = vigil(&["rules", "check", falco.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let notes: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("loads but cannot fire"))
        .collect();
    assert_eq!(notes, [] as [&str; 0], "{out}");
    // The summary stays last; the default rules have no such rule.
    assert!(
        out.lines().last().unwrap().starts_with("ok: loaded "),
        "{out}"
    );
    let o = vigil(&["rules", "check", repo_rules().to_str().unwrap()]);
    assert!(!stdout(&o).contains("cannot fire"), "{}", stdout(&o));
}

#[test]
fn check_names_rules_the_open_filter_cannot_serve() {
    let d = TempDir::new("sensing");
    let f = d.0.join("app.yaml");
    std::fs::write(
        &f,
        "- rule: App secrets\n  desc: d\n  condition: evt.type = openat and fd.name startswith /srv/app/\n  output: o\n  priority: WARNING\n\
         - rule: Secret anywhere\n  desc: d\n  condition: evt.type = openat and fd.name contains secret\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    for args in [
        vec!["rules", "check", f.to_str().unwrap()],
        vec!["rules", "check", "--with-defaults", f.to_str().unwrap()],
    ] {
        let o = vigil(&args);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        let notes: Vec<&str> = out
            .lines()
            .filter(|l| l.contains(": note: rule '"))
            .collect();
        let mine: Vec<&&str> = notes
            .iter()
            .filter(|l| l.starts_with(f.to_str().unwrap()))
            .collect();
        assert_eq!(mine.len(), 1, "{out}");
        assert!(
            mine[0].starts_with(&format!(
                "{}:6:9: note: rule 'Secret anywhere' can match opens of any path",
                f.display()
            )),
            "{out}"
        );
    }
}
