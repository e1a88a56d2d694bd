//! The host filesystems holding container layers and volumes, and which
//! containers fill them.
//!
//! Every container on a host writes its writable layer (the overlay's
//! `upperdir`) and its volumes to a few host filesystems, usually the one
//! holding the runtimes' storage roots (`/var/lib/containers/storage`,
//! `/var/lib/docker`, `/var/lib/containerd`). One container filling such a
//! filesystem breaks every other container on it and the runtimes
//! themselves. [`Storage`] watches those filesystems (`statvfs`, one call
//! per root per sample) and keeps their fill history, and it attributes
//! growth to containers honestly and cheaply: each container's writable
//! places on a watched filesystem are found from one of its processes'
//! `mountinfo` (the overlay's `upperdir`, and every other mount of the
//! same device: bind-mounted volumes), and each place's disk usage is
//! walked once when first seen (the baseline) and again only when its
//! filesystem's used bytes have moved by a step ([`remeasure_step`]) since
//! the last walk. A container's growth is its places' usage now minus at
//! the baseline, so the container named is the one whose own layer or
//! volume grew, not the one that happens to hold the most.
//!
//! Not seen: files a container has deleted but keeps open (they use space
//! but are in no directory), writes through a mount of the filesystem that
//! none of its processes' mount tables show, and containers whose processes
//! the caller does not list. A walk stops after [`WALK_BUDGET`] entries
//! (the usage is then a lower bound).

use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::hash::Hash;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mountinfo;
use crate::Timestamp;

/// The storage roots of the runtimes vigil knows, watched when they exist.
pub const DEFAULT_ROOTS: &[&str] = &[
    "/var/lib/containers/storage",
    "/var/lib/docker",
    "/var/lib/containerd",
];

/// Directory entries one walk of a place visits at most.
pub const WALK_BUDGET: u64 = 50_000;

/// The fill rate is measured over this window.
pub const RATE_WINDOW: Duration = Duration::from_secs(30);

/// Growth below this is not attributed (metadata, logs, lock files).
pub const MIN_GROWTH: u64 = 1 << 20;

/// How far a filesystem's used bytes move before the places on it are
/// walked again: 1% of its size, at least 1 MiB.
pub fn remeasure_step(size: u64) -> u64 {
    (size / 100).max(MIN_GROWTH)
}

/// One `statvfs` of a filesystem, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsStat {
    pub size: u64,
    pub used: u64,
    /// Available to unprivileged users (`df`'s "Avail").
    pub avail: u64,
}

impl FsStat {
    /// Used over used plus available, as `df` computes `Use%`.
    pub fn usage_pct(&self) -> Option<f64> {
        let d = self.used + self.avail;
        (d > 0).then(|| 100.0 * self.used as f64 / d as f64)
    }
}

/// `statvfs(path)`.
pub fn statvfs(path: &Path) -> std::io::Result<FsStat> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid C string and `st` a writable statvfs.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        st
    };
    let f = st.f_frsize as u64;
    Ok(FsStat {
        size: st.f_blocks as u64 * f,
        used: (st.f_blocks as u64).saturating_sub(st.f_bfree as u64) * f,
        avail: st.f_bavail as u64 * f,
    })
}

/// What kind of writable place a container has on a filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlaceKind {
    /// The overlay's upper directory: the container's own changes.
    Layer,
    /// Any other mount of the filesystem: a volume or bind mount.
    Volume,
}

impl PlaceKind {
    pub fn name(self) -> &'static str {
        match self {
            PlaceKind::Layer => "writable layer",
            PlaceKind::Volume => "volume",
        }
    }
}

/// A directory a container writes to, on the filesystem `dev`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Place {
    pub dev: u64,
    pub kind: PlaceKind,
    /// Where the agent walks it (through procfs).
    pub walk: PathBuf,
    /// Where the container sees it (`/` for the layer, `/data`).
    pub shown: String,
}

/// The writable places on the filesystems `devs` that process `pid` sees,
/// from its `mountinfo`; an overlay's `upperdir` is reached through
/// `/proc/1/root` (it is a path of the runtime's mount namespace, the
/// host's), a volume through `/proc/<pid>/root`.
pub fn places(proc_root: &Path, pid: u32, devs: &[u64]) -> std::io::Result<Vec<Place>> {
    let text = std::fs::read_to_string(proc_root.join(format!("{pid}/mountinfo")))?;
    let mut out: Vec<Place> = Vec::new();
    for e in mountinfo::entries(&text) {
        let shown = e.mount_point.to_string_lossy().into_owned();
        let (kind, walk) = if e.fstype == "overlay" {
            let Some(upper) = e
                .super_opts
                .split(',')
                .find_map(|o| o.strip_prefix("upperdir="))
            else {
                continue;
            };
            (
                PlaceKind::Layer,
                proc_root.join("1/root").join(upper.trim_start_matches('/')),
            )
        } else {
            let rel = e.mount_point.strip_prefix("/").unwrap_or(&e.mount_point);
            (
                PlaceKind::Volume,
                proc_root.join(format!("{pid}/root")).join(rel),
            )
        };
        let Ok(md) = std::fs::metadata(&walk) else {
            continue;
        };
        if !md.is_dir() || !devs.contains(&md.dev()) || readonly(&walk) {
            continue;
        }
        let p = Place {
            dev: md.dev(),
            kind,
            walk,
            shown,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    // A mount inside another place of the same filesystem is walked with it.
    let inner = |p: &Place| {
        out.iter()
            .any(|o| o.dev == p.dev && o.walk != p.walk && p.walk.starts_with(&o.walk))
    };
    let nested: Vec<bool> = out.iter().map(inner).collect();
    let mut keep = nested.into_iter().map(|n| !n);
    out.retain(|_| keep.next().unwrap_or(true));
    Ok(out)
}

fn readonly(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: as in `statvfs`.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0
    }
}

/// Disk usage (allocated blocks) under `dir` on filesystem `dev`, not
/// crossing into other filesystems; `budget` entries at most. Returns the
/// bytes and whether the walk was complete.
pub fn disk_usage(dir: &Path, dev: u64, budget: &mut u64) -> (u64, bool) {
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for ent in rd.flatten() {
            if *budget == 0 {
                return (bytes, false);
            }
            *budget -= 1;
            let Ok(md) = ent.metadata() else { continue };
            if md.dev() != dev {
                continue;
            }
            bytes += md.blocks() * 512;
            if md.is_dir() {
                stack.push(ent.path());
            }
        }
    }
    (bytes, true)
}

/// One watched filesystem.
#[derive(Debug)]
struct Fs {
    dev: u64,
    /// The first watched root on it.
    root: PathBuf,
    stat: FsStat,
    /// Used bytes over time, [`RATE_WINDOW`] and a little more.
    history: VecDeque<(Timestamp, u64)>,
    /// Used bytes when its places were last walked.
    walked_at_used: Option<u64>,
}

impl Fs {
    fn fill_rate(&self) -> Option<f64> {
        let &(t1, u1) = self.history.back()?;
        let cut = t1.0.saturating_sub(RATE_WINDOW.as_nanos() as u64);
        let &(t0, u0) = self
            .history
            .iter()
            .rev()
            .find(|(t, _)| t.0 <= cut)
            .or_else(|| self.history.front())?;
        let dt = (t1.0 - t0.0) as f64 / 1e9;
        (dt > 0.0).then(|| (u1 as f64 - u0 as f64) / dt)
    }
}

#[derive(Debug)]
struct Measured {
    place: Place,
    /// Usage at the first walk, and at the last.
    first: Option<u64>,
    last: Option<u64>,
    complete: bool,
}

/// A filesystem as one container's `container_stats` event reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct FsReport<K> {
    /// The watched root on the filesystem.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    pub usage_pct: Option<f64>,
    /// Bytes per second over [`RATE_WINDOW`] (negative when freed).
    pub fill_rate: Option<f64>,
    /// Seconds until full at that rate (only while it fills).
    pub full_in: Option<f64>,
    /// This container's places' usage on it, and their growth since the
    /// agent first walked them.
    pub container_bytes: u64,
    pub container_growth: u64,
    /// The container whose places grew most (at least [`MIN_GROWTH`]).
    pub top_writer: Option<K>,
    /// The growing containers, most first, with where they grew: how the
    /// fill was attributed.
    pub writers: String,
}

impl<K> FsReport<K> {
    /// The container's growth over the filesystem's size, in %.
    pub fn container_growth_pct(&self) -> Option<f64> {
        (self.size > 0).then(|| 100.0 * self.container_growth as f64 / self.size as f64)
    }
}

/// Watched filesystems and the containers' places on them.
#[derive(Debug)]
pub struct Storage<K> {
    roots: Vec<PathBuf>,
    fss: Vec<Fs>,
    places: HashMap<K, Vec<Measured>>,
}

impl<K: Clone + Eq + Hash + std::fmt::Display> Storage<K> {
    /// Watch the filesystems holding `roots` (those that exist).
    pub fn new(roots: Vec<PathBuf>) -> Storage<K> {
        Storage {
            roots,
            fss: Vec::new(),
            places: HashMap::new(),
        }
    }

    /// The watched filesystems: (root, device), one per device.
    pub fn watched(&self) -> impl Iterator<Item = (&Path, u64)> {
        self.fss.iter().map(|f| (f.root.as_path(), f.dev))
    }

    /// `statvfs` every root (one call per device). A root that does not
    /// exist (yet) is skipped.
    pub fn sample(&mut self, now: Timestamp) {
        let mut seen: Vec<u64> = Vec::new();
        for root in &self.roots {
            let Ok(md) = std::fs::metadata(root) else {
                continue;
            };
            let dev = md.dev();
            if seen.contains(&dev) {
                continue;
            }
            seen.push(dev);
            let Ok(stat) = statvfs(root) else { continue };
            let fs = match self.fss.iter_mut().position(|f| f.dev == dev) {
                Some(i) => &mut self.fss[i],
                None => {
                    self.fss.push(Fs {
                        dev,
                        root: root.clone(),
                        stat,
                        history: VecDeque::new(),
                        walked_at_used: None,
                    });
                    self.fss.last_mut().expect("just pushed")
                }
            };
            fs.stat = stat;
            fs.history.push_back((now, stat.used));
            let keep = now.0.saturating_sub(2 * RATE_WINDOW.as_nanos() as u64);
            while fs.history.len() > 2 && fs.history.front().is_some_and(|(t, _)| t.0 < keep) {
                fs.history.pop_front();
            }
        }
        self.fss.retain(|f| seen.contains(&f.dev));
    }

    /// Find each container's places from one of its processes (`pids`:
    /// container → its live pids, tried in order until one's mount table
    /// reads); containers not listed are forgotten. Places already known
    /// keep their measurements.
    pub fn scan_places<'a>(
        &mut self,
        proc_root: &Path,
        pids: impl IntoIterator<Item = (K, &'a [u32])>,
    ) {
        let devs: Vec<u64> = self.fss.iter().map(|f| f.dev).collect();
        let mut next = HashMap::new();
        for (k, ps) in pids {
            let Some(found) = ps.iter().find_map(|&p| places(proc_root, p, &devs).ok()) else {
                continue;
            };
            let mut old = self.places.remove(&k).unwrap_or_default();
            let list = found
                .into_iter()
                .map(|place| match old.iter().position(|m| m.place == place) {
                    Some(i) => old.swap_remove(i),
                    None => Measured {
                        place,
                        first: None,
                        last: None,
                        complete: true,
                    },
                })
                .collect();
            next.insert(k, list);
        }
        self.places = next;
    }

    /// Walk the places not walked yet, and every place of a filesystem
    /// whose used bytes moved by [`remeasure_step`] since its last walk.
    /// Returns the number of places walked.
    pub fn measure(&mut self) -> usize {
        let mut walked = 0;
        for fs in &mut self.fss {
            let moved = fs
                .walked_at_used
                .is_none_or(|u| u.abs_diff(fs.stat.used) >= remeasure_step(fs.stat.size));
            let mut any = false;
            for m in self.places.values_mut().flatten() {
                if m.place.dev != fs.dev || !(moved || m.first.is_none()) {
                    continue;
                }
                let mut budget = WALK_BUDGET;
                let (bytes, complete) = disk_usage(&m.place.walk, fs.dev, &mut budget);
                m.first.get_or_insert(bytes);
                m.last = Some(bytes);
                m.complete = complete;
                walked += 1;
                any = true;
            }
            if moved || any {
                fs.walked_at_used = Some(fs.stat.used);
            }
        }
        walked
    }

    /// Growth and usage of `k`'s places on `dev`.
    fn of(&self, k: &K, dev: u64) -> Option<(u64, u64)> {
        let ms: Vec<&Measured> = self
            .places
            .get(k)?
            .iter()
            .filter(|m| m.place.dev == dev)
            .collect();
        if ms.is_empty() {
            return None;
        }
        let used = ms.iter().filter_map(|m| m.last).sum();
        let growth = ms
            .iter()
            .filter_map(|m| Some(m.last?.saturating_sub(m.first?)))
            .sum();
        Some((used, growth))
    }

    /// The filesystem `k` has places on that is fullest, as its event
    /// reports it; `None` when it has none on a watched filesystem.
    pub fn report(&self, k: &K) -> Option<FsReport<K>> {
        let fs = self
            .fss
            .iter()
            .filter(|f| self.of(k, f.dev).is_some())
            .max_by(|a, b| {
                let (a, b) = (a.stat.usage_pct(), b.stat.usage_pct());
                a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
            })?;
        let (container_bytes, container_growth) = self.of(k, fs.dev)?;
        let fill_rate = fs.fill_rate();
        let mut growers: Vec<(u64, &K)> = self
            .places
            .keys()
            .filter_map(|c| Some((self.of(c, fs.dev)?.1, c)))
            .filter(|&(g, _)| g >= MIN_GROWTH)
            .collect();
        growers.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1.to_string().cmp(&b.1.to_string()))
        });
        let writers = growers
            .iter()
            .take(3)
            .map(|(g, c)| format!("{c} +{} MiB in {}", g >> 20, self.where_grown(c, fs.dev)))
            .collect::<Vec<_>>()
            .join(", ");
        Some(FsReport {
            path: fs.root.to_string_lossy().into_owned(),
            size: fs.stat.size,
            usage_pct: fs.stat.usage_pct(),
            fill_rate,
            full_in: fill_rate
                .filter(|&r| r > 0.0)
                .map(|r| fs.stat.avail as f64 / r),
            container_bytes,
            container_growth,
            top_writer: growers.first().map(|(_, c)| (*c).clone()),
            writers,
        })
    }

    /// `k`'s places on `dev` that grew, as `volume /data, writable layer /`.
    fn where_grown(&self, k: &K, dev: u64) -> String {
        let Some(ms) = self.places.get(k) else {
            return String::new();
        };
        ms.iter()
            .filter(|m| m.place.dev == dev)
            .filter(|m| m.last.zip(m.first).is_some_and(|(l, f)| l > f))
            .map(|m| {
                let lower = if m.complete { "" } else { " (at least)" };
                format!("{} {}{lower}", m.place.kind.name(), m.place.shown)
            })
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_and_usage() {
        let s = statvfs(Path::new("/")).unwrap();
        assert!(s.size > 0 && s.used <= s.size);
        assert!(s.usage_pct().is_some_and(|p| (0.0..=100.0).contains(&p)));
        assert_eq!(FsStat::default().usage_pct(), None);
    }

    #[test]
    fn disk_usage_counts_blocks_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let dev = std::fs::metadata(dir.path()).unwrap().dev();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/f"), vec![1u8; 64 << 10]).unwrap();
        let mut budget = WALK_BUDGET;
        let (b, complete) = disk_usage(dir.path(), dev, &mut budget);
        assert!(complete);
        assert!(b >= 64 << 10, "{b}");
        let mut budget = 1;
        assert!(!disk_usage(dir.path(), dev, &mut budget).1);
    }

    /// A fake procfs: pid 7's mount table shows a volume at /data whose
    /// directory is a real directory (the test's), so its device matches.
    #[test]
    fn attributes_growth_to_the_container_whose_place_grew() {
        let proc = tempfile::tempdir().unwrap();
        let vol = |pid: u32| {
            let d = proc.path().join(format!("{pid}/root/data"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                proc.path().join(format!("{pid}/mountinfo")),
                format!(
                    "1 0 0:9 / / rw - overlay overlay rw,lowerdir=/l,upperdir=/up{pid},workdir=/w\n\
                     2 1 8:1 /v /data rw - ext4 /dev/x rw\n"
                ),
            )
            .unwrap();
            std::fs::create_dir_all(proc.path().join(format!("1/root/up{pid}"))).unwrap();
            d
        };
        let (a, b) = (vol(7), vol(8));
        let mut st: Storage<String> = Storage::new(vec![proc.path().to_owned()]);
        st.sample(Timestamp(1));
        let pids: [(String, &[u32]); 2] = [("aaa".into(), &[99, 7]), ("bbb".into(), &[8])];
        st.scan_places(proc.path(), pids.clone());
        // Each has its writable layer and its volume.
        assert_eq!(st.measure(), 4);
        assert_eq!(st.measure(), 0, "nothing moved");
        std::fs::write(a.join("big"), vec![1u8; 3 << 20]).unwrap();
        std::fs::write(b.join("small"), vec![1u8; 4 << 10]).unwrap();
        std::fs::File::open(a.join("big"))
            .unwrap()
            .sync_all()
            .unwrap();
        // Force the walk as if the filesystem had moved by a step.
        st.fss[0].walked_at_used = Some(u64::MAX);
        st.scan_places(proc.path(), pids);
        assert!(st.measure() >= 2);
        let r = st.report(&"bbb".to_string()).unwrap();
        assert_eq!(r.top_writer.as_deref(), Some("aaa"));
        assert!(r.container_growth < MIN_GROWTH);
        assert!(r.writers.starts_with("aaa +3 MiB in "), "{}", r.writers);
        assert!(r.writers.contains("volume /data"), "{}", r.writers);
        let r = st.report(&"aaa".to_string()).unwrap();
        assert!(r.container_growth >= 3 << 20);
        assert!(st.report(&"ccc".to_string()).is_none());
    }
}
