//! Line outputs: stdout and files. One alert per line, written and flushed
//! at once so a reader (or a log shipper tailing the file) sees it.
//!
//! Files are created `0600` (alerts name processes, paths and command
//! lines). [`LineWriter::reopen`] after SIGHUP closes and reopens the path,
//! the logrotate convention: lines written between logrotate's rename and
//! the reopen land in the renamed file, none is lost. With `max_bytes` set,
//! the file is also rotated by size: `alerts.json` → `alerts.json.1` → ... →
//! `alerts.json.<keep>`, the oldest removed.
//!
//! These writes block, so the output runs on a thread of its own
//! ([`super::spawn_thread`]), never on the runtime's workers.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::format::Format;

/// Options of the `stdout` output.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutOptions {
    #[serde(default)]
    pub format: Format,
    /// Queue length (alerts); default [`super::DEFAULT_QUEUE`].
    #[serde(default)]
    pub queue: Option<usize>,
}

/// Options of a `file` output.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    pub path: PathBuf,
    #[serde(default)]
    pub format: Format,
    /// Rotate when the file would grow past this many bytes (no rotation
    /// by size when absent; logrotate + SIGHUP works either way).
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Rotated files kept (`PATH.1` ... `PATH.<keep>`).
    #[serde(default = "default_keep")]
    pub keep: u32,
    #[serde(default)]
    pub queue: Option<usize>,
}

fn default_keep() -> u32 {
    5
}

impl FileOptions {
    pub fn new(path: PathBuf) -> FileOptions {
        FileOptions {
            path,
            format: Format::default(),
            max_bytes: None,
            keep: default_keep(),
            queue: None,
        }
    }
}

/// Opens `path` for appending, creating it `0600`.
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// `PATH.n`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

enum Target {
    Stdout(io::Stdout),
    File {
        file: File,
        path: PathBuf,
        size: u64,
        max_bytes: Option<u64>,
        keep: u32,
    },
}

/// Writes alert lines to stdout or a file.
pub struct LineWriter {
    target: Target,
    line: Vec<u8>,
}

impl LineWriter {
    pub fn stdout() -> LineWriter {
        LineWriter {
            target: Target::Stdout(io::stdout()),
            line: Vec::with_capacity(4096),
        }
    }

    /// Opens (creates, `0600`) the file of `opts`.
    pub fn file(opts: &FileOptions) -> io::Result<LineWriter> {
        let file = open_append(&opts.path)?;
        let size = file.metadata()?.len();
        Ok(LineWriter {
            target: Target::File {
                file,
                path: opts.path.clone(),
                size,
                max_bytes: opts.max_bytes,
                keep: opts.keep,
            },
            line: Vec::with_capacity(4096),
        })
    }

    /// Writes `bytes` and a line end as one write, rotating first if the
    /// file would outgrow `max_bytes`.
    pub fn write_line(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.line.clear();
        self.line.extend_from_slice(bytes);
        self.line.push(b'\n');
        match &mut self.target {
            Target::Stdout(out) => {
                let mut out = out.lock();
                out.write_all(&self.line)?;
                out.flush()
            }
            Target::File {
                size, max_bytes, ..
            } => {
                let n = self.line.len() as u64;
                if max_bytes.is_some_and(|max| *size > 0 && *size + n > max) {
                    self.rotate()?;
                }
                let Target::File { file, size, .. } = &mut self.target else {
                    unreachable!("a file target stays a file target")
                };
                file.write_all(&self.line)?;
                *size += n;
                Ok(())
            }
        }
    }

    /// Closes and reopens the file at its path (after logrotate moved it).
    pub fn reopen(&mut self) -> io::Result<()> {
        if let Target::File {
            file, path, size, ..
        } = &mut self.target
        {
            *file = open_append(path)?;
            *size = file.metadata()?.len();
        }
        Ok(())
    }

    /// Shifts `PATH.k` to `PATH.k+1` (the oldest falls off), `PATH` to
    /// `PATH.1`, and starts a new `PATH`.
    fn rotate(&mut self) -> io::Result<()> {
        let Target::File { path, keep, .. } = &self.target else {
            return Ok(());
        };
        let (path, keep) = (path.clone(), *keep);
        if keep == 0 {
            std::fs::remove_file(&path)?;
        } else {
            // Shift only the rotated files there are (.1, .2, ... in a row).
            let mut top = 0;
            while top < keep && numbered(&path, top + 1).exists() {
                top += 1;
            }
            if top == keep {
                std::fs::remove_file(numbered(&path, keep))?;
                top -= 1;
            }
            for k in (1..=top).rev() {
                std::fs::rename(numbered(&path, k), numbered(&path, k + 1))?;
            }
            std::fs::rename(&path, numbered(&path, 1))?;
        }
        self.reopen()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    #[test]
    fn files_are_private_and_appended() {
        let dir = crate::testutil::TempDir::new("out-file");
        let path = dir.path().join("alerts.json");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut w = LineWriter::file(&FileOptions::new(path.clone())).unwrap();
        w.write_line(b"a").unwrap();
        assert_eq!(lines(&path), ["old", "a"]);
        let fresh = dir.path().join("new.json");
        LineWriter::file(&FileOptions::new(fresh.clone())).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn rotates_by_size_and_keeps_count() {
        let dir = crate::testutil::TempDir::new("out-rotate");
        let path = dir.path().join("a.json");
        let opts = FileOptions {
            max_bytes: Some(20),
            keep: 2,
            ..FileOptions::new(path.clone())
        };
        let mut w = LineWriter::file(&opts).unwrap();
        for i in 0..10 {
            w.write_line(format!("line-{i:03}").as_bytes()).unwrap(); // 9 bytes a line
        }
        // Two lines a file; the newest in PATH, older in .1, .2; the rest gone.
        assert_eq!(lines(&path), ["line-008", "line-009"]);
        assert_eq!(lines(&numbered(&path, 1)), ["line-006", "line-007"]);
        assert_eq!(lines(&numbered(&path, 2)), ["line-004", "line-005"]);
        assert!(!numbered(&path, 3).exists());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn reopen_follows_a_rename() {
        let dir = crate::testutil::TempDir::new("out-reopen");
        let path = dir.path().join("a.json");
        let mut w = LineWriter::file(&FileOptions::new(path.clone())).unwrap();
        w.write_line(b"1").unwrap();
        std::fs::rename(&path, dir.path().join("a.json.old")).unwrap();
        w.write_line(b"2").unwrap(); // still the open (renamed) file
        w.reopen().unwrap();
        w.write_line(b"3").unwrap();
        assert_eq!(lines(&dir.path().join("a.json.old")), ["1", "2"]);
        assert_eq!(lines(&path), ["3"]);
    }
}
