//! Learned per-image process baselines: what an image normally runs.
//!
//! For each image (or any workload key the agent chooses, e.g.
//! `k8s:shop/deployment/cart`) a [`BaselineStore`] learns, for a learning
//! period, every executable that runs, the executables that start it, and
//! the shapes of its argv ([`shape`]). Afterwards the baseline *enforces*:
//! [`BaselineStore::check`] compares an exec against it and returns a
//! [`Verdict`] naming each way the exec differs (a new executable, a known
//! one started by a new parent, a known one with a new argv shape).
//! It also learns the ports the image listens on ([`BaselineStore::observe_listen`]):
//! a container of an image that never listened, or never on that port, is
//! a backdoor or bind shell more often than a feature.
//!
//! Baselines live in memory and on disk as one TOML file per image
//! ([`file`]): stable sorted output an operator can review, edit and commit;
//! `vigil baseline show|export|import` call [`BaselineStore::show`],
//! [`BaselineStore::export`] and [`BaselineStore::import`].

pub mod file;
pub mod shape;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use file::BaselineError;

/// The rule field answered by [`Verdict::in_baseline`].
pub const FIELD_IN_BASELINE: &str = "proc.in_baseline";

/// The parent recorded for a process whose parent executable is unknown
/// (e.g. the container's first process, started by the runtime).
pub const NO_PARENT: &str = "<none>";

/// Learning limits.
#[derive(Clone, Copy, Debug)]
pub struct LearnConfig {
    /// How long an image learns after its first exec.
    pub period: Duration,
    /// argv shapes kept per executable; past this the executable accepts any
    /// argv (`any_argv = true` in its file), as a build tool running
    /// thousands of distinct commands would otherwise grow without bound.
    pub max_argv_shapes: usize,
    /// Parents kept per executable; past this any parent is accepted.
    pub max_parents: usize,
    /// Executables kept per image; past this new ones are not learned (and
    /// will be reported once enforcing).
    pub max_exes: usize,
    /// Listening ports kept per image; past this new ones are not learned.
    pub max_listen: usize,
    /// Start learning an image at its first exec. Off: only images given
    /// [`BaselineStore::start_learning`] or imported files have baselines.
    pub auto_learn: bool,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            period: Duration::from_secs(3600),
            max_argv_shapes: 32,
            max_parents: 16,
            max_exes: 2048,
            max_listen: 256,
            auto_learn: true,
        }
    }
}

/// Whether an image's baseline is still learning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Recording; enforcement starts at `until` (unix seconds).
    Learning { since: u64, until: u64 },
    /// Checking every exec.
    Enforcing,
}

/// What one executable was seen doing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExeEntry {
    pub parents: BTreeSet<String>,
    pub any_parent: bool,
    pub argv: BTreeSet<Vec<String>>,
    pub any_argv: bool,
}

/// One image's baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageBaseline {
    pub image: String,
    pub mode: Mode,
    /// Executables by path.
    pub exes: BTreeMap<String, ExeEntry>,
    /// Ports listened on, as [`listen_key`] writes them (`tcp/8080`).
    pub listen: BTreeSet<String>,
}

impl ImageBaseline {
    pub fn new(image: &str, mode: Mode) -> ImageBaseline {
        ImageBaseline {
            image: image.to_owned(),
            mode,
            exes: BTreeMap::new(),
            listen: BTreeSet::new(),
        }
    }

    fn learn(&mut self, cfg: &LearnConfig, exe: &str, parent: &str, shape: Vec<String>) {
        if !self.exes.contains_key(exe) && self.exes.len() >= cfg.max_exes {
            return;
        }
        let e = self.exes.entry(exe.to_owned()).or_default();
        if !e.any_parent && !e.parents.contains(parent) {
            if e.parents.len() >= cfg.max_parents {
                e.any_parent = true;
                e.parents.clear();
            } else {
                e.parents.insert(parent.to_owned());
            }
        }
        if !e.any_argv && !e.argv.contains(&shape) {
            if e.argv.len() >= cfg.max_argv_shapes {
                e.any_argv = true;
                e.argv.clear();
            } else {
                e.argv.insert(shape);
            }
        }
    }

    fn differences(&self, exe: &str, parent: &str, shape: Vec<String>) -> Vec<Difference> {
        let Some(e) = self.exes.get(exe) else {
            return vec![Difference::NewExe {
                exe: exe.to_owned(),
            }];
        };
        let mut d = Vec::new();
        if !e.any_parent && !e.parents.contains(parent) {
            d.push(Difference::NewParent {
                exe: exe.to_owned(),
                parent: parent.to_owned(),
                known: e.parents.iter().cloned().collect(),
            });
        }
        if !e.any_argv && !e.argv.contains(&shape) {
            d.push(Difference::NewArgvShape {
                exe: exe.to_owned(),
                shape,
            });
        }
        d
    }
}

/// The state of the baseline an exec was checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaselineState {
    /// No baseline for this image: nothing to compare with.
    None,
    /// Still learning: the exec was recorded.
    Learning,
    Enforcing,
}

/// How an exec differs from its image's baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// The executable never ran during learning.
    NewExe { exe: String },
    /// A known executable started by a parent never seen starting it.
    NewParent {
        exe: String,
        parent: String,
        known: Vec<String>,
    },
    /// A known executable with an argv shape never seen.
    NewArgvShape { exe: String, shape: Vec<String> },
    /// A port never listened on during learning, with the known ones.
    NewListen { port: String, known: Vec<String> },
}

impl Difference {
    /// A short stable tag for alert fields: `new_exe`, `new_parent`,
    /// `new_argv`.
    pub fn kind(&self) -> &'static str {
        match self {
            Difference::NewExe { .. } => "new_exe",
            Difference::NewParent { .. } => "new_parent",
            Difference::NewArgvShape { .. } => "new_argv",
            Difference::NewListen { .. } => "new_listen",
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::NewExe { exe } => write!(f, "executable {exe} is not in the baseline"),
            Difference::NewParent { exe, parent, known } => write!(
                f,
                "{exe} started by {parent}, baseline parents: {}",
                known.join(", ")
            ),
            Difference::NewArgvShape { exe, shape } => {
                write!(f, "{exe} with new argv shape [{}]", shape.join(" "))
            }
            Difference::NewListen { port, known } if known.is_empty() => {
                write!(f, "listening on {port}; the image never listened")
            }
            Difference::NewListen { port, known } => write!(
                f,
                "listening on {port}, baseline ports: {}",
                known.join(", ")
            ),
        }
    }
}

/// The result of checking one exec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub state: BaselineState,
    /// False only when an enforcing baseline does not cover the exec: this
    /// is `proc.in_baseline`.
    pub in_baseline: bool,
    pub differences: Vec<Difference>,
}

impl Verdict {
    fn unchecked(state: BaselineState) -> Verdict {
        Verdict {
            state,
            in_baseline: true,
            differences: Vec::new(),
        }
    }

    /// All differences in one line, for an alert's output.
    pub fn summary(&self) -> String {
        self.differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Baselines of every image.
#[derive(Clone, Debug, Default)]
pub struct BaselineStore {
    cfg: LearnConfig,
    images: BTreeMap<String, ImageBaseline>,
}

impl BaselineStore {
    pub fn new(cfg: LearnConfig) -> BaselineStore {
        BaselineStore {
            cfg,
            images: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &LearnConfig {
        &self.cfg
    }

    pub fn get(&self, image: &str) -> Option<&ImageBaseline> {
        self.images.get(image)
    }

    pub fn images(&self) -> impl Iterator<Item = &ImageBaseline> {
        self.images.values()
    }

    /// Installs (or replaces) one image's baseline.
    pub fn insert(&mut self, baseline: ImageBaseline) {
        self.images.insert(baseline.image.clone(), baseline);
    }

    pub fn remove(&mut self, image: &str) -> Option<ImageBaseline> {
        self.images.remove(image)
    }

    /// Starts (or restarts, keeping what was learned) learning `image` for
    /// `period` (default: the configured period) from `now_unix`.
    pub fn start_learning(&mut self, image: &str, now_unix: u64, period: Option<Duration>) {
        let until = now_unix.saturating_add(period.unwrap_or(self.cfg.period).as_secs());
        let mode = Mode::Learning {
            since: now_unix,
            until,
        };
        self.images
            .entry(image.to_owned())
            .and_modify(|b| b.mode = mode)
            .or_insert_with(|| ImageBaseline::new(image, mode));
    }

    /// Ends learning now: the baseline enforces from the next exec.
    pub fn finish_learning(&mut self, image: &str) -> Result<(), BaselineError> {
        let b = self
            .images
            .get_mut(image)
            .ok_or_else(|| BaselineError::UnknownImage(image.to_owned()))?;
        b.mode = Mode::Enforcing;
        Ok(())
    }

    /// The agent's entry point for every exec: an image seen for the first
    /// time starts learning; a learning image records the exec (and switches
    /// to enforcing once its period is over); an enforcing image checks it.
    pub fn observe<S: AsRef<str>>(
        &mut self,
        image: &str,
        exe: &str,
        parent_exe: Option<&str>,
        argv: &[S],
        now_unix: u64,
    ) -> Verdict {
        if !self.images.contains_key(image) {
            if !self.cfg.auto_learn {
                return Verdict::unchecked(BaselineState::None);
            }
            self.start_learning(image, now_unix, None);
        }
        let cfg = self.cfg;
        let b = self.images.get_mut(image).expect("inserted above");
        if let Mode::Learning { until, .. } = b.mode {
            if now_unix < until {
                b.learn(
                    &cfg,
                    exe,
                    parent_exe.unwrap_or(NO_PARENT),
                    shape::shape_argv(argv),
                );
                return Verdict::unchecked(BaselineState::Learning);
            }
            b.mode = Mode::Enforcing;
        }
        self.check(image, exe, parent_exe, argv)
    }

    /// The agent's entry point for every listening socket (`listen`, or a
    /// UDP `bind` to a port): learned like an exec while the image learns
    /// (and starts its learning if it is new), checked once it enforces.
    /// `port` is [`listen_key`]'s text.
    pub fn observe_listen(&mut self, image: &str, port: &str, now_unix: u64) -> Verdict {
        if !self.images.contains_key(image) {
            if !self.cfg.auto_learn {
                return Verdict::unchecked(BaselineState::None);
            }
            self.start_learning(image, now_unix, None);
        }
        let max = self.cfg.max_listen;
        let b = self.images.get_mut(image).expect("inserted above");
        if let Mode::Learning { until, .. } = b.mode {
            if now_unix < until {
                if b.listen.len() < max {
                    b.listen.insert(port.to_owned());
                }
                return Verdict::unchecked(BaselineState::Learning);
            }
            b.mode = Mode::Enforcing;
        }
        let known = b.listen.contains(port);
        Verdict {
            state: BaselineState::Enforcing,
            in_baseline: known,
            differences: if known {
                Vec::new()
            } else {
                vec![Difference::NewListen {
                    port: port.to_owned(),
                    known: b.listen.iter().cloned().collect(),
                }]
            },
        }
    }

    /// Checks an exec against `image`'s baseline without learning.
    pub fn check<S: AsRef<str>>(
        &self,
        image: &str,
        exe: &str,
        parent_exe: Option<&str>,
        argv: &[S],
    ) -> Verdict {
        let Some(b) = self.images.get(image) else {
            return Verdict::unchecked(BaselineState::None);
        };
        if matches!(b.mode, Mode::Learning { .. }) {
            return Verdict::unchecked(BaselineState::Learning);
        }
        let differences = b.differences(
            exe,
            parent_exe.unwrap_or(NO_PARENT),
            shape::shape_argv(argv),
        );
        Verdict {
            state: BaselineState::Enforcing,
            in_baseline: differences.is_empty(),
            differences,
        }
    }

    /// The file text of one image's baseline, or of all, concatenated in
    /// image order (`vigil baseline show [image]`).
    pub fn show(&self, image: Option<&str>) -> Result<String, BaselineError> {
        match image {
            Some(i) => self
                .images
                .get(i)
                .map(file::render)
                .ok_or_else(|| BaselineError::UnknownImage(i.to_owned())),
            None => Ok(self
                .images
                .values()
                .map(file::render)
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }

    /// Writes one file per image into `dir` (created if needed), each
    /// written atomically; returns the paths written.
    pub fn export(&self, dir: &Path) -> Result<Vec<PathBuf>, BaselineError> {
        file::export(self.images.values(), dir)
    }

    /// Reads every `*.toml` file in `dir` and installs the baselines,
    /// replacing those of the same images. All files are parsed before any
    /// is installed: one bad file leaves the store untouched. Returns the
    /// images imported.
    pub fn import(&mut self, dir: &Path) -> Result<Vec<String>, BaselineError> {
        let baselines = file::import(dir)?;
        let names = baselines.iter().map(|b| b.image.clone()).collect();
        for b in baselines {
            self.insert(b);
        }
        Ok(names)
    }
}

/// How a baseline names a listening port: `tcp/8080`, `udp/53`.
pub fn listen_key(l4proto: &str, port: u16) -> String {
    format!("{l4proto}/{port}")
}

#[cfg(test)]
mod tests;
