//! The config file: `vigil run`'s options in one TOML file.
//!
//! Every top-level key is a `vigil run` flag without its dashes (`rules`,
//! `listen`, `record-retention-size`, `no-resources`, ...; `_` may stand
//! for `-`), and its value is what the flag takes: a string or number, a
//! boolean for a switch, an array for a flag given several times. This
//! module owns reading the file and where each setting sits in it
//! (`file:line:column` for every error); the command line turns each
//! [`Setting`] into its flag and checks its value with the very parser the
//! flag uses, so the file cannot drift from the flags and a value the flag
//! refuses is refused in the file too, with its position. Flags given on
//! the command line override the file.
//!
//! `[outputs]` is not a flag: it is kept as a table ([`ConfigFile::outputs`])
//! for the alert outputs to read.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::Spanned;

/// The table that is not a `vigil run` flag.
pub const OUTPUTS: &str = "outputs";

/// A position in the file, 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The line and column of byte `offset` in `text`.
    pub fn of(text: &str, offset: usize) -> Position {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Position { line, column }
    }
}

/// One key of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The flag's name, dashes normalised (`record-retention-size`).
    pub key: String,
    pub value: SettingValue,
    /// Where the key is.
    pub at: Position,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingValue {
    /// A switch: given (`true`) or not.
    Switch(bool),
    /// One value, as the flag would take it.
    One(String),
    /// A flag given once per value.
    Many(Vec<String>),
}

impl Setting {
    /// The command-line arguments this setting stands for.
    pub fn args(&self) -> Vec<String> {
        let flag = format!("--{}", self.key);
        match &self.value {
            SettingValue::Switch(true) => vec![flag],
            SettingValue::Switch(false) => vec![],
            SettingValue::One(v) => vec![flag, v.clone()],
            SettingValue::Many(vs) => vs.iter().flat_map(|v| [flag.clone(), v.clone()]).collect(),
        }
    }
}

/// A parsed config file.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// In file order.
    pub settings: Vec<Setting>,
    /// The `[outputs]` table, for the alert outputs, and where it starts.
    pub outputs: Option<(toml::Table, Position)>,
}

/// What is wrong with a config file; `Display` starts with `file:line:column:`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{}:{}: {message}", path.display(), at.line, at.column)]
    Invalid {
        path: PathBuf,
        at: Position,
        message: String,
    },
}

impl ConfigError {
    pub fn invalid(path: &Path, at: Position, message: impl fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            path: path.to_owned(),
            at,
            message: message.to_string(),
        }
    }
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Parses `text` (read from `path`, named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
        type Doc = toml::map::Map<String, toml::Value>;
        let _: Doc = toml::from_str(text).map_err(|e| {
            let at = Position::of(text, e.span().map_or(0, |s| s.start));
            ConfigError::invalid(path, at, e.message().trim())
        })?;
        let spanned: Vec<(Spanned<String>, Spanned<toml::Value>)> = toml::from_str::<
            std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>,
        >(text)
        .map_err(|e| {
            let at = Position::of(text, e.span().map_or(0, |s| s.start));
            ConfigError::invalid(path, at, e.message().trim())
        })?
        .into_iter()
        .collect();
        let mut settings = Vec::new();
        let mut outputs = None;
        for (key, value) in spanned {
            let at = Position::of(text, key.span().start);
            let vat = Position::of(text, value.span().start);
            let name = key.get_ref().replace('_', "-");
            if name == OUTPUTS {
                match value.into_inner() {
                    toml::Value::Table(t) => outputs = Some((t, at)),
                    other => {
                        return Err(ConfigError::invalid(
                            path,
                            vat,
                            format!("`outputs` must be a table, not {}", other.type_str()),
                        ))
                    }
                }
                continue;
            }
            let value = match value.into_inner() {
                toml::Value::Boolean(b) => SettingValue::Switch(b),
                toml::Value::Array(items) => SettingValue::Many(
                    items
                        .into_iter()
                        .map(|v| scalar(&v))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            ConfigError::invalid(
                                path,
                                vat,
                                format!("`{name}`: array items must be strings or numbers"),
                            )
                        })?,
                ),
                v => SettingValue::One(scalar(&v).ok_or_else(|| {
                    ConfigError::invalid(
                        path,
                        vat,
                        format!(
                            "`{name}`: a {} is not a flag value (use a string, number, boolean or array)",
                            v.type_str()
                        ),
                    )
                })?),
            };
            settings.push(Setting {
                key: name,
                value,
                at,
            });
        }
        settings.sort_by_key(|s| (s.at.line, s.at.column));
        Ok(ConfigFile {
            path: path.to_owned(),
            settings,
            outputs,
        })
    }

    /// Every setting as command-line arguments, in file order.
    pub fn args(&self) -> Vec<String> {
        self.settings.iter().flat_map(Setting::args).collect()
    }

    /// An error at `setting`'s position.
    pub fn error_at(&self, setting: &Setting, message: impl fmt::Display) -> ConfigError {
        ConfigError::invalid(&self.path, setting.at, message)
    }
}

/// A string or number as the flag would read it.
fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("vigil.toml"), text)
    }

    #[test]
    fn keys_become_flags_in_file_order() {
        let c = parse(
            "# comment\nlisten = \"0.0.0.0:9376\"\nrules = [\"/etc/vigil/rules.d\", \"x.yaml\"]\n\
             no_resources = true\nstats-interval = 30\nno-default-rules = false\n\
             [outputs]\nhttp = { url = \"http://127.0.0.1:2801/\" }\n",
        )
        .unwrap();
        assert_eq!(
            c.args(),
            [
                "--listen",
                "0.0.0.0:9376",
                "--rules",
                "/etc/vigil/rules.d",
                "--rules",
                "x.yaml",
                "--no-resources",
                "--stats-interval",
                "30"
            ]
        );
        assert_eq!(c.settings[0].at, Position { line: 2, column: 1 });
        let (outputs, at) = c.outputs.unwrap();
        assert!(outputs.contains_key("http"));
        assert_eq!(at.line, 7);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("listen = \"x\"\nrules = [\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("vigil.toml:"), "{e}");
        let e = parse("listen = \"a\"\nrecord = { dir = \"x\" }\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("vigil.toml:2:10: `record`: a table"), "{e}");
        let e = parse("rules = [1, {a = 1}]\n").unwrap_err().to_string();
        assert!(e.starts_with("vigil.toml:1:9: `rules`"), "{e}");
        let e = parse("outputs = 3\n").unwrap_err().to_string();
        assert!(
            e.starts_with("vigil.toml:1:11: `outputs` must be a table"),
            "{e}"
        );
        let e = ConfigFile::load(Path::new("/nonexistent/vigil.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/vigil.toml: "), "{e}");
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let t = "ab\ncdé\nf";
        assert_eq!(Position::of(t, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of(t, 3), Position { line: 2, column: 1 });
        assert_eq!(
            Position::of(t, t.len() - 1),
            Position { line: 3, column: 1 }
        );
    }
}
