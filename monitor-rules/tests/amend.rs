//! `append`, `override` and `exceptions`, mirroring the examples in Falco's
//! documentation (with vigil-supported fields where Falco's use others).

mod common;

use common::Ev;
use monitor_rules::{LoadOptions, RuleSet, RuleSource};

fn load(files: &[&str]) -> RuleSet {
    let sources: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, t)| RuleSource::new(format!("f{i}.yaml"), *t))
        .collect();
    RuleSet::load(&sources, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

fn fires(set: &RuleSet, ev: &Ev) -> Vec<String> {
    set.matching(ev).map(|r| r.name().to_owned()).collect()
}

const PROGRAM_ACCESSES_FILE: &str = r#"
- list: my_programs
  items: [ls, cat, pwd]
- macro: access_file
  condition: evt.type=open
- rule: program_accesses_file
  desc: track whenever a set of programs opens a file
  condition: proc.name in (my_programs) and (access_file)
  output: a tracked program opened a file (user=%user.uid command=%proc.cmdline file=%fd.name)
  priority: INFO
"#;

fn open_by(ty: &str, name: &str, uid: i64) -> Ev {
    Ev::new(ty).s("proc.name", name).n("user.uid", uid)
}

#[test]
fn list_override_append_and_legacy_append() {
    let base = load(&[PROGRAM_ACCESSES_FILE]);
    assert!(fires(&base, &open_by("open", "cp", 1)).is_empty());
    let set = load(&[
        PROGRAM_ACCESSES_FILE,
        "- list: my_programs\n  items: [cp]\n  override:\n    items: append\n",
    ]);
    assert_eq!(
        fires(&set, &open_by("open", "cp", 1)),
        ["program_accesses_file"]
    );
    assert_eq!(
        fires(&set, &open_by("open", "ls", 1)),
        ["program_accesses_file"]
    );
    let set = load(&[
        PROGRAM_ACCESSES_FILE,
        "- list: my_programs\n  append: true\n  items: [cp]\n",
    ]);
    assert_eq!(
        fires(&set, &open_by("open", "cp", 1)),
        ["program_accesses_file"]
    );
    let set = load(&[
        PROGRAM_ACCESSES_FILE,
        "- list: my_programs\n  items: [cp]\n  override:\n    items: replace\n",
    ]);
    assert_eq!(
        fires(&set, &open_by("open", "cp", 1)),
        ["program_accesses_file"]
    );
    assert!(fires(&set, &open_by("open", "ls", 1)).is_empty());
}

#[test]
fn macro_override_append_and_replace() {
    let set = load(&[PROGRAM_ACCESSES_FILE, "- macro: access_file\n  condition: or evt.type = openat\n  override:\n    condition: append\n"]);
    assert_eq!(
        fires(&set, &open_by("openat", "cat", 1)),
        ["program_accesses_file"]
    );
    assert_eq!(
        fires(&set, &open_by("open", "cat", 1)),
        ["program_accesses_file"]
    );
    assert_eq!(
        set.rules()[0].evt_types().unwrap().collect::<Vec<_>>(),
        ["open", "openat"]
    );
    let set = load(&[PROGRAM_ACCESSES_FILE, "- macro: access_file\n  condition: evt.type = openat\n  override:\n    condition: replace\n"]);
    assert_eq!(
        fires(&set, &open_by("openat", "cat", 1)),
        ["program_accesses_file"]
    );
    assert!(fires(&set, &open_by("open", "cat", 1)).is_empty());
    let set = load(&[
        PROGRAM_ACCESSES_FILE,
        "- macro: access_file\n  append: true\n  condition: or evt.type = openat\n",
    ]);
    assert_eq!(
        fires(&set, &open_by("openat", "cat", 1)),
        ["program_accesses_file"]
    );
}

#[test]
fn rule_condition_append_and_replace() {
    // Falco's example appends "and not user.name=root"; vigil has user.uid.
    let app = "- rule: program_accesses_file\n  condition: and not user.uid=0\n  override:\n    condition: append\n";
    let set = load(&[PROGRAM_ACCESSES_FILE, app]);
    assert_eq!(
        fires(&set, &open_by("open", "cat", 1)),
        ["program_accesses_file"]
    );
    assert!(fires(&set, &open_by("open", "cat", 0)).is_empty());
    let legacy = "- rule: program_accesses_file\n  append: true\n  condition: and not user.uid=0\n";
    let set = load(&[PROGRAM_ACCESSES_FILE, legacy]);
    assert!(fires(&set, &open_by("open", "cat", 0)).is_empty());
    let rep = "- rule: program_accesses_file\n  condition: evt.type = open and proc.name = vi\n  override:\n    condition: replace\n";
    let set = load(&[PROGRAM_ACCESSES_FILE, rep]);
    assert!(fires(&set, &open_by("open", "cat", 1)).is_empty());
    assert_eq!(
        fires(&set, &open_by("open", "vi", 1)),
        ["program_accesses_file"]
    );
}

#[test]
fn rule_override_other_keys() {
    let ov = "- rule: program_accesses_file\n  priority: CRITICAL\n  tags: [extra]\n  desc: more\n  output: \"and %proc.name\"\n  override:\n    priority: replace\n    tags: append\n    desc: append\n    output: append\n";
    let set = load(&[
        PROGRAM_ACCESSES_FILE
            .replace("priority: INFO", "priority: INFO\n  tags: [base]")
            .as_str(),
        ov,
    ]);
    let r = &set.rules()[0];
    assert_eq!(r.priority().as_str(), "Critical");
    assert_eq!(r.tags(), ["base", "extra"]);
    assert_eq!(
        r.desc(),
        "track whenever a set of programs opens a file more"
    );
    assert!(r
        .format_output(&open_by("open", "cat", 1))
        .ends_with("file=<NA>) and cat"));
}

#[test]
fn enabling_and_disabling() {
    let set = load(&[
        PROGRAM_ACCESSES_FILE,
        "- rule: program_accesses_file\n  enabled: false\n",
    ]);
    assert!(fires(&set, &open_by("open", "cat", 1)).is_empty());
    let set = load(&[
        PROGRAM_ACCESSES_FILE,
        "- rule: program_accesses_file\n  enabled: false\n",
        "- rule: program_accesses_file\n  enabled: true\n  override:\n    enabled: replace\n",
    ]);
    assert_eq!(
        fires(&set, &open_by("open", "cat", 1)),
        ["program_accesses_file"]
    );
}

#[test]
fn redefinition_replaces_and_keeps_order() {
    let second =
        "- rule: other\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type = open\n";
    let redefine = "- rule: program_accesses_file\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type = open and proc.name = vi\n";
    let set = load(&[PROGRAM_ACCESSES_FILE, second, redefine]);
    assert_eq!(
        fires(&set, &open_by("open", "vi", 1)),
        ["program_accesses_file", "other"]
    );
    assert_eq!(fires(&set, &open_by("open", "cat", 1)), ["other"]);
}

const WRITE_BELOW_BINARY_DIR: &str = r#"
- macro: bin_dir
  condition: fd.directory in (/bin, /sbin, /usr/bin, /usr/sbin)
- macro: open_write
  condition: evt.type in (open, openat) and evt.is_open_write=true
- rule: Write below binary dir
  desc: an attempt to write to any file below a set of binary directories
  condition: >
    bin_dir and open_write
  exceptions:
    - name: proc_writer
      fields: [proc.name, fd.directory]
    - name: container_writer
      fields: [container.image.repository, fd.directory]
      comps: [=, startswith]
  output: "File below a known binary directory opened for writing (file=%fd.name)"
  priority: ERROR
"#;

const WRITE_EXCEPTION_VALUES: &str = r#"
- rule: Write below binary dir
  exceptions:
  - name: proc_writer
    values:
    - [apk, /usr/bin]
    - [npm, /usr/sbin]
  - name: container_writer
    values:
    - [docker.io/alpine, /usr/]
  override:
    exceptions: append
"#;

fn write(name: &str, dir: &str, image: &str) -> Ev {
    Ev::new("openat")
        .s("proc.name", name)
        .s("fd.directory", dir)
        .s("fd.name", &format!("{dir}/x"))
        .b("evt.is_open_write", true)
        .s("container.image.repository", image)
}

#[test]
fn exceptions_tuple_form() {
    let base = load(&[WRITE_BELOW_BINARY_DIR]);
    // No values yet: the exceptions add nothing.
    assert_eq!(fires(&base, &write("apk", "/usr/bin", "x")).len(), 1);
    let set = load(&[WRITE_BELOW_BINARY_DIR, WRITE_EXCEPTION_VALUES]);
    assert!(
        fires(&set, &write("apk", "/usr/bin", "x")).is_empty(),
        "apk writing /usr/bin is excepted"
    );
    assert_eq!(
        fires(&set, &write("apk", "/usr/sbin", "x")).len(),
        1,
        "apk only for /usr/bin"
    );
    assert!(fires(&set, &write("npm", "/usr/sbin", "x")).is_empty());
    assert!(
        fires(&set, &write("bash", "/usr/bin", "docker.io/alpine")).is_empty(),
        "startswith comp"
    );
    assert_eq!(
        fires(&set, &write("bash", "/bin", "docker.io/alpine")).len(),
        1
    );
    assert_eq!(
        fires(&set, &write("bash", "/usr/bin", "quay.io/x")).len(),
        1
    );
    // Legacy append form gives the same result.
    let legacy =
        WRITE_EXCEPTION_VALUES.replace("  override:\n    exceptions: append\n", "  append: true\n");
    let set = load(&[WRITE_BELOW_BINARY_DIR, &legacy]);
    assert!(fires(&set, &write("apk", "/usr/bin", "x")).is_empty());
    // Replacing the exceptions drops the earlier ones.
    let replace = "- rule: Write below binary dir\n  exceptions:\n  - name: only_bash\n    fields: proc.name\n    values: [bash]\n  override:\n    exceptions: replace\n";
    let set = load(&[WRITE_BELOW_BINARY_DIR, WRITE_EXCEPTION_VALUES, replace]);
    assert_eq!(fires(&set, &write("apk", "/usr/bin", "x")).len(), 1);
    assert!(fires(&set, &write("bash", "/usr/bin", "x")).is_empty());
}

#[test]
fn exceptions_single_field_and_list_values() {
    let rule = |ex: &str| {
        format!("- list: pkg\n  items: [apk, npm]\n- rule: r\n  desc: d\n  output: o\n  priority: INFO\n  condition: evt.type = openat\n  exceptions:\n{ex}")
    };
    // fields as one name: comps defaults to `in`, values are the operands.
    let set = load(&[&rule(
        "  - name: e\n    fields: proc.name\n    values: [apk, npm]\n",
    )]);
    assert!(fires(&set, &write("apk", "/x", "i")).is_empty());
    assert_eq!(fires(&set, &write("bash", "/x", "i")).len(), 1);
    // A list name as a value of an `in` comp expands to the list.
    let set = load(&[&rule("  - name: e\n    fields: [proc.name, fd.directory]\n    comps: [in, pmatch]\n    values:\n      - [pkg, [/usr, /opt]]\n")]);
    assert!(fires(&set, &write("npm", "/opt/x", "i")).is_empty());
    assert_eq!(fires(&set, &write("npm", "/etc", "i")).len(), 1);
    assert_eq!(fires(&set, &write("bash", "/opt", "i")).len(), 1);
    // Other operators work per field, including on numbers.
    let set = load(&[&rule("  - name: e\n    fields: [proc.name, fd.directory]\n    comps: [startswith, '!=']\n    values: [[ap, /usr]]\n")]);
    assert!(fires(&set, &write("apk", "/opt", "i")).is_empty());
    assert_eq!(fires(&set, &write("apk", "/usr", "i")).len(), 1);
    let set = load(&[&rule(
        "  - name: e\n    fields: [proc.pid]\n    comps: ['>']\n    values: [[100]]\n",
    )]);
    assert!(fires(&set, &Ev::new("openat").n("proc.pid", 101)).is_empty());
    assert_eq!(fires(&set, &Ev::new("openat").n("proc.pid", 100)).len(), 1);
}
