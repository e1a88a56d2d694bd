//! What `vigil rules check` and `vigil rules list` print, and directory
//! loading, on real files in a temporary directory.

use std::path::{Path, PathBuf};

use monitor_rules::{check, list, LoadOptions, RuleSet};

/// A temporary directory removed on drop (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vigil-rules-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const BASE: &str = "- list: shells\n  items: [sh, bash]\n- rule: shell\n  desc: a shell\n  condition: evt.type = execve and proc.name in (shells)\n  output: shell %proc.name\n  priority: WARNING\n  tags: [unexpected-exec, T1059]\n";

#[test]
fn directory_loads_yaml_files_sorted_by_name() {
    let d = TempDir::new("dir");
    // 20-extra appends to a list defined in 10-base: order matters.
    d.write(
        "20-extra.yml",
        "- list: shells\n  items: [zsh]\n  override:\n    items: append\n",
    );
    d.write("10-base.yaml", BASE);
    d.write("README.md", "not rules");
    d.write("30-plugin.yaml", "- rule: plugin\n  desc: d\n  condition: evt.type = execve and evt.pluginname != x\n  output: o\n  priority: INFO\n");
    let (set, report) = RuleSet::load_paths(&[d.path()], &LoadOptions::default()).unwrap();
    let names: Vec<_> = report
        .files
        .iter()
        .map(|f| {
            Path::new(f)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["10-base.yaml", "20-extra.yml", "30-plugin.yaml"]);
    assert_eq!(set.rules().len(), 1);
    assert_eq!(report.skipped.len(), 1);
}

#[test]
fn check_ok_prints_skips_and_summary() {
    let d = TempDir::new("checkok");
    d.write("a.yaml", BASE);
    d.write("b.yaml", "- rule: plugin\n  desc: d\n  condition: evt.type = execve and evt.pluginname != x\n  output: o\n  priority: INFO\n");
    let out = check(&[d.path()], false);
    assert!(out.ok, "{:?}", out.lines);
    let b = d.path().join("b.yaml").display().to_string();
    assert_eq!(
        out.lines[0],
        format!("{b}:1:9: rule 'plugin' skipped: field 'evt.pluginname' is not supported by vigil")
    );
    assert_eq!(
        out.lines.last().unwrap(),
        "ok: loaded 1 rules (1 enabled) from 2 file(s), skipped 1"
    );
    // --strict turns the skip into an error.
    let out = check(&[d.path()], true);
    assert!(!out.ok);
    assert!(out.lines[0].starts_with(&format!("{b}:1:9: rule 'plugin' is not supported")));
    assert_eq!(out.lines.last().unwrap(), "1 error(s)");
}

#[test]
fn check_reports_errors_with_positions() {
    let d = TempDir::new("checkbad");
    let f = d.write(
        "bad.yaml",
        &BASE.replace(
            "proc.name in (shells)",
            "proc.name in (shells) and proc.pid = x",
        ),
    );
    let out = check(&[&f], false);
    assert!(!out.ok);
    assert_eq!(
        out.lines[0],
        format!(
            "{}:5:73: type error: field 'proc.pid' is numeric; 'x' is not a number",
            f.display()
        )
    );
    // Missing files are errors too, naming the path.
    let out = check(&[d.path().join("nope.yaml")], false);
    assert!(!out.ok);
    assert!(out.lines[0].contains("nope.yaml"), "{:?}", out.lines);
}

#[test]
fn list_prints_a_table() {
    let d = TempDir::new("list");
    d.write("a.yaml", &format!("{BASE}- rule: off\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: DEBUG\n  enabled: false\n"));
    let (set, report) = RuleSet::load_paths(&[d.path()], &LoadOptions::default()).unwrap();
    let text = list(&set, &report);
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines[0], "RULE   PRIORITY  STATE     EVT.TYPE  TAGS");
    assert_eq!(
        lines[1],
        "shell  Warning   enabled   execve    unexpected-exec,T1059"
    );
    assert_eq!(lines[2], "off    Debug     disabled  *");
    assert_eq!(
        lines[3],
        "loaded 2 rules (1 enabled) from 1 file(s), skipped 0"
    );
}

#[test]
fn check_groups_skips_by_reason_and_reports_plugins() {
    let d = TempDir::new("groups");
    let rule = |name: &str, cond: &str| {
        format!("- rule: {name}\n  desc: d\n  condition: evt.type = execve and {cond}\n  output: o\n  priority: INFO\n")
    };
    let text = format!(
        "- required_engine_version: 0.31.0\n- required_plugin_versions:\n  - name: k8saudit\n    version: 0.7.0\n{}{}{}{}",
        rule("a", "evt.pluginname != x"),
        rule("b", "proc.name = x and evt.pluginname = y"),
        rule("c", "ka.user.name = x"),
        rule("d", "proc.name = x"),
    );
    let f = d.write("r.yaml", &text);
    let out = check(&[&f], false);
    assert!(out.ok, "{:?}", out.lines);
    let n = out.lines.len();
    assert_eq!(
        out.lines[n - 5..],
        [
            "skipped 3 rule(s), by reason:".to_owned(),
            "    2  field 'evt.pluginname' is not supported by vigil: a, b".to_owned(),
            "    1  field 'ka.user.name' is not supported by vigil: c".to_owned(),
            "note: the files require Falco plugin 'k8saudit' 0.7.0: vigil loads no plugins: fields it supplies itself (container.*, ...) work, rules of plugin sources are skipped".to_owned(),
            "ok: loaded 1 rules (1 enabled) from 1 file(s), skipped 3".to_owned(),
        ]
    );
    let (_, report) = RuleSet::load_paths(&[&f], &LoadOptions::default()).unwrap();
    assert_eq!(report.required_engine_version.as_deref(), Some("0.31.0"));
    assert_eq!(
        report.required_plugins,
        [("k8saudit".to_owned(), "0.7.0".to_owned())]
    );
}
