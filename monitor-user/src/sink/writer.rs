//! The alert writer: one Falco JSON line per alert to stdout (flushed per
//! line) or appended to a file.

use std::io::{self, Write};
use std::path::Path;

use super::alert::Alert;

/// Where alerts are written: stdout (flushed per line) or a file opened
/// for appending.
pub struct AlertSink {
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    pub written: u64,
}

impl AlertSink {
    pub fn stdout() -> AlertSink {
        AlertSink::new(Box::new(io::stdout()))
    }

    /// Append to `path`, creating it if needed.
    pub fn append_to(path: &Path) -> io::Result<AlertSink> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AlertSink::new(Box::new(f)))
    }

    pub fn new(out: Box<dyn Write + Send>) -> AlertSink {
        AlertSink {
            out,
            buf: Vec::with_capacity(4096),
            written: 0,
        }
    }

    /// Write one alert line and flush it, so a reader sees it at once.
    pub fn write(&mut self, alert: &Alert) -> io::Result<()> {
        self.buf.clear();
        alert.write_line(&mut self.buf);
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        self.written += 1;
        Ok(())
    }
}
