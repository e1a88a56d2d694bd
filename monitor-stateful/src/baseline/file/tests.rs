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

const GOOD_EXE: &str = "[[exe]]\npath = \"/bin/sh\"\nparents = [\"<none>\"]\nargv = [[\"sh\"]]\n";

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
    let (l, _, m) = bad(
        "image = \"x\"\nmode = \"enforcing\"\n\n[[exe]]\npath = \"/bin/sh\"\nargv = [[\"sh\"]]\n",
    );
    assert!(m.contains("no `parents`"), "{m}");
    assert!((4..=6).contains(&l), "{l}");
    // Wrong type.
    let (l, _, m) = bad("image = \"x\"\nmode = \"enforcing\"\n[[exe]]\npath = \"/a\"\nparents = \"/bin/sh\"\nargv = [[\"a\"]]\n");
    assert_eq!(l, 5, "{m}");
    // A listening port that is not PROTO/PORT.
    let (l, c, m) = bad("image = \"x\"\nmode = \"enforcing\"\nlisten = [\"tcp/80\", \"sctp/9\"]\n");
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
