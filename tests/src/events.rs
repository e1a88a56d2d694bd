//! Reading the agent's `--events FILE` while the agent writes it.
//!
//! [`EventFile`] tails the JSON-lines file incrementally (only whole lines;
//! a partly written last line waits for its newline) and keeps what it
//! parsed, so a test can wait for "the mount event of this container" without
//! re-reading megabytes. Every line must be exactly one JSON object: a line
//! that is not is an error, since that is part of the contract under test.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Error;

/// A JSON-lines file being written by the agent.
pub struct EventFile {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    events: Vec<Value>,
}

impl EventFile {
    pub fn new(path: impl Into<PathBuf>) -> EventFile {
        EventFile {
            path: path.into(),
            offset: 0,
            partial: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what was appended since the last call.
    pub fn poll(&mut self) -> Result<(), Error> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        f.seek(SeekFrom::Start(self.offset))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let Some(last_nl) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        let rest = self.partial.split_off(last_nl + 1);
        let whole = std::mem::replace(&mut self.partial, rest);
        for line in whole.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(line);
            let v: Value = serde_json::from_str(&text).map_err(|source| Error::StdoutJson {
                line: self.events.len() + 1,
                text: text.to_string(),
                source,
            })?;
            self.events.push(v);
        }
        Ok(())
    }

    /// Every event read so far.
    pub fn events(&self) -> &[Value] {
        &self.events
    }

    /// Polls until an event satisfies `pred` or `timeout` passes.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Option<Value>, Error> {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        loop {
            self.poll()?;
            if let Some(v) = self.events[seen..].iter().find(|v| pred(v)) {
                return Ok(Some(v.clone()));
            }
            seen = self.events.len();
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Like [`EventFile::wait_for`], but a missing event is an error that
    /// quotes the closest candidates (`near`), so a failure explains itself.
    pub fn expect(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
        near: impl Fn(&Value) -> bool,
    ) -> Value {
        match self.wait_for(timeout, pred) {
            Ok(Some(v)) => v,
            Ok(None) => {
                let close: Vec<String> = self
                    .events
                    .iter()
                    .filter(|v| near(v))
                    .take(20)
                    .map(Value::to_string)
                    .collect();
                panic!(
                    "no event {what} within {timeout:?} ({} events read); near misses:\n{}",
                    self.events.len(),
                    close.join("\n")
                )
            }
            Err(e) => panic!("reading {}: {e}", self.path.display()),
        }
    }
}

/// `v[key]` as a string, or "".
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Whether an alert's `tags` list holds `tag`.
pub fn has_tag(alert: &Value, tag: &str) -> bool {
    alert
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)))
}

/// An alert's `output_fields[key]` as a string, or "".
pub fn field<'a>(alert: &'a Value, key: &str) -> &'a str {
    alert
        .get("output_fields")
        .and_then(|f| f.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tails_whole_lines_only() {
        let dir = crate::podman::TempDir::new("vigil-events").unwrap();
        let p = dir.path().join("e.jsonl");
        let mut f = File::create(&p).unwrap();
        let mut ev = EventFile::new(&p);
        write!(f, "{{\"a\":1}}\n{{\"a\":").unwrap();
        f.flush().unwrap();
        ev.poll().unwrap();
        assert_eq!(ev.events().len(), 1);
        writeln!(f, "2}}").unwrap();
        f.flush().unwrap();
        let got = ev
            .wait_for(Duration::from_secs(1), |v| v["a"] == 2)
            .unwrap();
        assert!(got.is_some());
        assert_eq!(ev.events().len(), 2);
    }

    #[test]
    fn a_bad_line_is_an_error() {
        let dir = crate::podman::TempDir::new("vigil-events").unwrap();
        let p = dir.path().join("e.jsonl");
        std::fs::write(&p, "{\"a\":1}\nnot json\n").unwrap();
        assert!(EventFile::new(&p).poll().is_err());
    }

    #[test]
    fn alert_helpers() {
        let a: Value =
            serde_json::json!({"tags":["breakout","T1611"],"output_fields":{"container.id":"abc"}});
        assert!(has_tag(&a, "breakout"));
        assert!(!has_tag(&a, "tamper"));
        assert_eq!(field(&a, "container.id"), "abc");
        assert_eq!(field(&a, "nope"), "");
    }
}
