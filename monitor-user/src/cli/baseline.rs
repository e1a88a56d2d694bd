//! `vigil baseline show|export|import`: the process baselines a run keeps
//! in its `--learn-baselines DIR`, as reviewable TOML files
//! (docs/baselines.md).
//!
//! `show` prints one image's baseline (or all); `export` writes a clean,
//! canonical copy of every baseline to another directory (for review and
//! commit); `import` checks reviewed files and installs them into the
//! agent's directory. Every file is parsed and checked before anything is
//! written, so one bad file changes nothing. A running agent reads the
//! directory at start.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use monitor_stateful::baseline::{BaselineError, LearnConfig};
use monitor_stateful::BaselineStore;

#[derive(Subcommand)]
pub enum BaselineCmd {
    /// Print the baseline of IMAGE (or of every image) in DIR.
    Show {
        #[command(flatten)]
        dir: DirArg,
        image: Option<String>,
    },
    /// Write every baseline in DIR to OUT, one canonical file per image.
    Export {
        #[command(flatten)]
        dir: DirArg,
        out: PathBuf,
    },
    /// Check the baseline files in FROM and install them into DIR
    /// (replacing the baselines of the same images).
    Import {
        #[command(flatten)]
        dir: DirArg,
        from: PathBuf,
    },
}

#[derive(Args)]
pub struct DirArg {
    /// The baselines directory of `vigil run --learn-baselines DIR`.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

fn load(dir: &std::path::Path) -> Result<BaselineStore, BaselineError> {
    let mut store = BaselineStore::new(LearnConfig {
        auto_learn: false,
        ..LearnConfig::default()
    });
    store.import(dir)?;
    Ok(store)
}

/// Runs the command; the text goes to stdout, errors are returned.
pub fn run(cmd: BaselineCmd) -> Result<String, BaselineError> {
    match cmd {
        BaselineCmd::Show { dir, image } => load(&dir.dir)?.show(image.as_deref()),
        BaselineCmd::Export { dir, out } => {
            let files = load(&dir.dir)?.export(&out)?;
            Ok(files
                .iter()
                .map(|f| format!("wrote {}\n", f.display()))
                .collect())
        }
        BaselineCmd::Import { dir, from } => {
            let incoming = load(&from)?;
            let mut store = load(&dir.dir)?;
            let mut names = Vec::new();
            for b in incoming.images() {
                names.push(b.image.clone());
                store.insert(b.clone());
            }
            store.export(&dir.dir)?;
            Ok(names.iter().map(|n| format!("imported {n}\n")).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    const FILE: &str = "image = \"docker.io/library/nginx:1.25\"\nmode = \"enforcing\"\n\n[[exe]]\npath = \"/usr/sbin/nginx\"\nparents = [\n    \"<none>\",\n]\nargv = [\n    [\"nginx\", \"-g\", \"daemon off;\"],\n]\n";

    fn dir(t: &TempDir) -> DirArg {
        DirArg {
            dir: t.path().join("agent"),
        }
    }

    #[test]
    fn import_show_export_round_trip() {
        let t = TempDir::new().unwrap();
        let from = t.path().join("reviewed");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::create_dir_all(t.path().join("agent")).unwrap();
        std::fs::write(from.join("nginx.toml"), FILE).unwrap();
        let out = run(BaselineCmd::Import {
            dir: dir(&t),
            from: from.clone(),
        })
        .unwrap();
        assert_eq!(out, "imported docker.io/library/nginx:1.25\n");
        let shown = run(BaselineCmd::Show {
            dir: dir(&t),
            image: Some("docker.io/library/nginx:1.25".into()),
        })
        .unwrap();
        assert!(shown.contains("path = \"/usr/sbin/nginx\""), "{shown}");
        assert!(shown.contains("mode = \"enforcing\""), "{shown}");
        let exported = t.path().join("out");
        let wrote = run(BaselineCmd::Export {
            dir: dir(&t),
            out: exported.clone(),
        })
        .unwrap();
        assert_eq!(wrote.lines().count(), 1, "{wrote}");
        let names: Vec<_> = std::fs::read_dir(&exported).unwrap().collect();
        assert_eq!(names.len(), 1);
        // Unknown image: a typed error.
        assert!(run(BaselineCmd::Show {
            dir: dir(&t),
            image: Some("nope".into()),
        })
        .is_err());
    }

    #[test]
    fn a_bad_import_changes_nothing() {
        let t = TempDir::new().unwrap();
        let from = t.path().join("reviewed");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::create_dir_all(t.path().join("agent")).unwrap();
        std::fs::write(from.join("a.toml"), FILE).unwrap();
        std::fs::write(from.join("b.toml"), "image = \"x\"\nmode = \"enforce\"\n").unwrap();
        let err = run(BaselineCmd::Import { dir: dir(&t), from }).unwrap_err();
        assert!(err.to_string().contains("b.toml:2:"), "{err}");
        assert_eq!(
            std::fs::read_dir(t.path().join("agent")).unwrap().count(),
            0
        );
    }
}
