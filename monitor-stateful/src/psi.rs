//! Pressure stall information (PSI): parsing and the host-wide files.
//!
//! The kernel reports, per resource, the share of time in which *some*
//! runnable tasks (or *all* of them: *full*) were stalled waiting for it, as
//! running averages over 10, 60 and 300 s plus a cumulative `total` in
//! microseconds. The same format appears host-wide in `/proc/pressure/<res>`
//! and per cgroup v2 directory in `<res>.pressure` (hybrid hosts too: PSI
//! does not need a v2 controller). The cumulative total is what windows use:
//! its growth per second, divided by 10^4, is the stall percentage over any
//! window, not just the kernel's three.

use std::path::{Path, PathBuf};

/// One `some` or `full` line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    /// Cumulative stall time in microseconds.
    pub total_us: u64,
}

/// One pressure file.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Psi {
    pub some: Option<PsiLine>,
    /// Absent for host CPU on kernels before 5.13.
    pub full: Option<PsiLine>,
}

/// The resources PSI tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PsiResource {
    Cpu,
    Memory,
    Io,
}

impl PsiResource {
    pub const ALL: [PsiResource; 3] = [PsiResource::Cpu, PsiResource::Memory, PsiResource::Io];

    pub const fn name(self) -> &'static str {
        match self {
            PsiResource::Cpu => "cpu",
            PsiResource::Memory => "memory",
            PsiResource::Io => "io",
        }
    }

    /// File name in a cgroup v2 directory.
    pub const fn cgroup_file(self) -> &'static str {
        match self {
            PsiResource::Cpu => "cpu.pressure",
            PsiResource::Memory => "memory.pressure",
            PsiResource::Io => "io.pressure",
        }
    }
}

/// Parses a pressure file; `None` if it has no recognisable line.
pub fn parse_psi(text: &str) -> Option<Psi> {
    let mut psi = Psi::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let slot = match fields.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => continue,
        };
        let mut l = PsiLine::default();
        let mut seen = 0;
        for f in fields {
            let Some((k, v)) = f.split_once('=') else {
                continue;
            };
            match k {
                "avg10" => l.avg10 = v.parse().ok()?,
                "avg60" => l.avg60 = v.parse().ok()?,
                "avg300" => l.avg300 = v.parse().ok()?,
                "total" => l.total_us = v.parse().ok()?,
                _ => continue,
            }
            seen += 1;
        }
        if seen == 4 {
            *slot = Some(l);
        }
    }
    (psi.some.is_some() || psi.full.is_some()).then_some(psi)
}

/// Reader of the host-wide pressure files.
#[derive(Clone, Debug)]
pub struct HostPsi {
    dir: PathBuf,
}

impl Default for HostPsi {
    fn default() -> Self {
        HostPsi::new("/proc/pressure")
    }
}

impl HostPsi {
    /// `dir` holds `cpu`, `memory` and `io` (normally `/proc/pressure`).
    pub fn new(dir: impl Into<PathBuf>) -> HostPsi {
        HostPsi { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// One resource's host pressure; `None` when PSI is disabled (`psi=0`)
    /// or the kernel predates it.
    pub fn read(&self, res: PsiResource) -> Option<Psi> {
        let text = std::fs::read_to_string(self.dir.join(res.name())).ok()?;
        parse_psi(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_format() {
        let text = "some avg10=1.48 avg60=33.62 avg300=25.72 total=144352351\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        let p = parse_psi(text).unwrap();
        let some = p.some.unwrap();
        assert_eq!(some.avg10, 1.48);
        assert_eq!(some.avg300, 25.72);
        assert_eq!(some.total_us, 144352351);
        assert_eq!(p.full.unwrap().total_us, 0);
    }

    #[test]
    fn some_only_and_garbage() {
        let p = parse_psi("some avg10=0.10 avg60=0.00 avg300=0.00 total=12\n").unwrap();
        assert!(p.full.is_none());
        assert_eq!(parse_psi(""), None);
        assert_eq!(parse_psi("some avg10=x avg60=0 avg300=0 total=1\n"), None);
        assert_eq!(parse_psi("some avg10=1.0\n"), None);
    }

    #[test]
    fn host_files_from_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cpu"),
            "some avg10=5.00 avg60=1.00 avg300=0.50 total=999\n",
        )
        .unwrap();
        let h = HostPsi::new(dir.path());
        assert_eq!(
            h.read(PsiResource::Cpu).unwrap().some.unwrap().total_us,
            999
        );
        assert_eq!(h.read(PsiResource::Io), None);
    }
}
