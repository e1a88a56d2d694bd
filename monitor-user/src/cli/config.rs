//! `vigil run --config FILE` and `vigil config check FILE`: the config file
//! ([`monitor_user::config`]) as `vigil run` flags.
//!
//! Each setting becomes its flag and is checked by the flag's own parser,
//! so the file accepts exactly what the command line does; an error names
//! the setting's `file:line:column`. The file's flags come first and the
//! command line's after them, and `run` lets a later flag override an
//! earlier one: flags given on the command line win (list flags such as
//! `--rules` add to the file's).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use monitor_user::config::{ConfigError, ConfigFile, Setting};
use monitor_user::sink::output::OutputSpec;

use super::Cli;

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Check a config file: every key is a `vigil run` flag and every value
    /// one it accepts. Errors name file:line:column; exits 1 on any.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(cmd: ConfigCmd) -> bool {
    match cmd {
        ConfigCmd::Check { file } => match load_checked(&file) {
            Ok(c) => {
                println!(
                    "{}: ok ({} settings{})",
                    file.display(),
                    c.settings.len(),
                    if c.outputs.is_some() {
                        ", [outputs]"
                    } else {
                        ""
                    }
                );
                true
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                false
            }
        },
    }
}

/// A clap error on one line: its text up to the usage, without `error: `.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let msg: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    let msg = msg.join(" ");
    msg.strip_prefix("error: ").unwrap_or(&msg).to_string()
}

fn parse_run(args: &[String]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(
        ["vigil", "run"]
            .into_iter()
            .map(String::from)
            .chain(args.iter().cloned()),
    )
}

/// Loads `path` and checks every setting with `vigil run`'s parser.
pub fn load_checked(path: &Path) -> Result<ConfigFile, Vec<ConfigError>> {
    let file = ConfigFile::load(path).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    for s in &file.settings {
        if let Some(msg) = check_setting(s) {
            errors.push(file.error_at(s, msg));
        }
    }
    if let Err(e) = outputs(&file) {
        errors.push(e);
    }
    if errors.is_empty() {
        // Settings that are fine alone may still not go together.
        if let Err(e) = parse_run(&file.args()) {
            let at = file.settings.first().map(|s| s.at).unwrap_or_default();
            errors.push(ConfigError::invalid(path, at, clap_message(&e)));
        }
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// The file's `[outputs]`: one named table per alert output
/// (docs/outputs.md), in name order; an error names where the table is.
pub fn outputs(file: &ConfigFile) -> Result<Vec<(String, OutputSpec)>, ConfigError> {
    let Some((table, at)) = &file.outputs else {
        return Ok(Vec::new());
    };
    let named: BTreeMap<String, OutputSpec> = table
        .clone()
        .try_into()
        .map_err(|e| ConfigError::invalid(&file.path, *at, format!("[outputs]: {e}")))?;
    Ok(named.into_iter().collect())
}

/// Why `s` is not a valid `vigil run` flag and value, if it is not.
fn check_setting(s: &Setting) -> Option<String> {
    if s.key == "config" {
        return Some("`config` cannot be set in a config file".into());
    }
    match parse_run(&s.args()) {
        Ok(_) => None,
        // Checked with the whole file (e.g. --record-segment-size needs --record).
        Err(e) if e.kind() == ErrorKind::MissingRequiredArgument => None,
        Err(e) if e.kind() == ErrorKind::UnknownArgument => Some(format!(
            "unknown option `{}` (not a `vigil run` flag)",
            s.key
        )),
        Err(e) => Some(format!("`{}`: {}", s.key, clap_message(&e))),
    }
}

/// `vigil run ... --config FILE ...` becomes `vigil run <file's flags>
/// <command line's flags>`; other command lines pass unchanged. A bad file
/// is an error here, before anything starts.
pub fn expand_args(argv: Vec<OsString>) -> Result<Vec<OsString>, Vec<ConfigError>> {
    if argv.get(1).and_then(|a| a.to_str()) != Some("run") {
        return Ok(argv);
    }
    let Some(path) = config_path(&argv[2..]) else {
        return Ok(argv);
    };
    let file = load_checked(&path)?;
    let mut out: Vec<OsString> = argv[..2].to_vec();
    out.extend(file.args().into_iter().map(OsString::from));
    out.extend(argv[2..].iter().cloned());
    Ok(out)
}

/// The value of `--config FILE` / `--config=FILE`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_str()?;
        if a == "--" {
            return None;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    None
}

/// Settings that differ between two versions of the file (by key).
pub fn changed_keys(old: &ConfigFile, new: &ConfigFile) -> Vec<String> {
    let mut keys: Vec<String> = old
        .settings
        .iter()
        .chain(&new.settings)
        .map(|s| s.key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    let value = |c: &ConfigFile, k: &str| {
        c.settings
            .iter()
            .find(|s| s.key == k)
            .map(|s| s.value.clone())
    };
    let mut changed: Vec<String> = keys
        .into_iter()
        .filter(|k| value(old, k) != value(new, k))
        .collect();
    if old.outputs.as_ref().map(|o| &o.0) != new.outputs.as_ref().map(|o| &o.0) {
        changed.push(monitor_user::config::OUTPUTS.to_string());
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("vigil.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vigil-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn outputs_are_named_tables_checked_with_their_position() {
        let d = tempdir("outputs");
        let p = write(
            &d,
            "stats-interval = 30\n\n[outputs.sidekick]\ntype = \"http\"\nurl = \"http://127.0.0.1:2801/\"\n\
             headers = [\"X-Token: t\"]\n\n[outputs.archive]\ntype = \"file\"\npath = \"/tmp/a.json\"\nformat = \"ocsf\"\n",
        );
        let named = outputs(&load_checked(&p).unwrap()).unwrap();
        let names: Vec<(&str, &str)> = named.iter().map(|(n, s)| (n.as_str(), s.kind())).collect();
        assert_eq!(names, [("archive", "file"), ("sidekick", "http")]);
        let p = write(&d, "stats-interval = 30\n[outputs.x]\ntype = \"kafka\"\n");
        let e = load_checked(&p).unwrap_err();
        let text = e[0].to_string();
        assert!(
            text.contains("vigil.toml:2:") && text.contains("[outputs]") && text.contains("kafka"),
            "{text}"
        );
        let p = write(
            &d,
            "[outputs.f]\ntype = \"file\"\npath = \"/a\"\nmax_size = 3\n",
        );
        let text = load_checked(&p).unwrap_err()[0].to_string();
        assert!(text.contains("max_size"), "{text}");
    }

    #[test]
    fn a_good_file_checks_and_flags_override_it() {
        let d = tempdir("good");
        let p = write(
            &d,
            "listen = \"0.0.0.0:9376\"\nstats-interval = 30\nrecord = \"/var/lib/vigil/record\"\n\
             record-retention-size = \"2GiB\"\nno-resources = true\nrules = [\"a.yaml\"]\n",
        );
        assert_eq!(load_checked(&p).unwrap().settings.len(), 6);
        let argv: Vec<OsString> = [
            "vigil",
            "run",
            "--config",
            p.to_str().unwrap(),
            "--stats-interval",
            "5",
            "--rules",
            "b.yaml",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        let cli = Cli::try_parse_from(expand_args(argv).unwrap()).unwrap();
        let super::super::Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!(a.stats_interval, 5, "the command line wins");
        assert!(a.no_resources);
        assert_eq!(
            a.alerting.rules,
            [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]
        );
        assert_eq!(a.config.as_deref(), Some(p.as_path()));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn bad_settings_name_their_position() {
        let d = tempdir("bad");
        let p = write(
            &d,
            "listen = \"0.0.0.0:9376\"\nstats-interval = 0\nbogus = 1\nring-bytes = 1000\n",
        );
        let errors: Vec<String> = load_checked(&p)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        let f = p.display();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with(&format!("{f}:2:1: `stats-interval`: ")),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with(&format!("{f}:3:1: unknown option `bogus`")),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with(&format!("{f}:4:1: `ring-bytes`: ")),
            "{errors:?}"
        );
        assert!(errors[2].contains("power of two"), "{errors:?}");
        // Alone fine, together not: a recorder setting without `record`.
        let p = write(&d, "record-segment-size = \"1MiB\"\n");
        let e = load_checked(&p).unwrap_err()[0].to_string();
        assert!(e.contains("--record"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_shipped_config_files_check() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for f in [
            "deploy/kubernetes/config/vigil.toml",
            "docs/vigil.example.toml",
        ] {
            let c = load_checked(&root.join(f)).unwrap_or_else(|e| panic!("{f}: {e:?}"));
            assert!(!c.settings.is_empty(), "{f}");
        }
    }

    #[test]
    fn other_commands_pass_unchanged() {
        let argv: Vec<OsString> = ["vigil", "rules", "check", "--config", "x"]
            .into_iter()
            .map(OsString::from)
            .collect();
        assert_eq!(expand_args(argv.clone()).unwrap(), argv);
    }
}
