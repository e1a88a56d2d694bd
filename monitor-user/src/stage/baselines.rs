//! Process baselines in the agent (`vigil run --learn-baselines DIR`):
//! every exec in a container is learned into, or checked against, its
//! image's baseline ([`monitor_stateful::BaselineStore`]), and the verdict is
//! stored on the event (`proc.in_baseline`, `proc.baseline_diff`). A
//! listening socket (a successful `listen`, or a UDP `bind` to a chosen
//! port) is learned and checked the same way against the image's ports.
//!
//! The directory holds one reviewed TOML file per image
//! (docs/baselines.md). At start every file in it is imported; an image
//! without a file learns from its first exec for the learning period, then
//! enforces. The store is written back to the directory periodically and
//! at exit, so a restart keeps what was learned and an operator can review
//! and commit the files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use monitor_stateful::baseline::{BaselineError, LearnConfig};
use monitor_stateful::BaselineStore;

use crate::event::sysargs::SockAddr;
use crate::event::{BaselineMark, Data, Event};

/// Learned and enforced process baselines, backed by a directory.
pub struct BaselineStage {
    store: BaselineStore,
    dir: PathBuf,
    dirty: bool,
}

impl BaselineStage {
    /// Import every baseline file in `dir` (created if missing); images
    /// without one learn for `period`.
    pub fn open(dir: &Path, period: Duration) -> Result<BaselineStage, BaselineError> {
        std::fs::create_dir_all(dir).map_err(|e| BaselineError::Io {
            path: dir.to_owned(),
            source: e,
        })?;
        let mut store = BaselineStore::new(LearnConfig {
            period,
            ..LearnConfig::default()
        });
        store.import(dir)?;
        Ok(BaselineStage {
            store,
            dir: dir.to_owned(),
            dirty: false,
        })
    }

    pub fn store(&self) -> &BaselineStore {
        &self.store
    }

    /// Learn or check an exec in a container with a known image, and mark
    /// the event with the verdict (only once a baseline enforces: while
    /// learning, or without a baseline, the event stays unmarked).
    pub fn annotate(&mut self, ev: &mut Event) {
        if ev.container.id == "host" {
            return;
        }
        let Some(image) = ev.container.image.as_deref() else {
            return;
        };
        let now_unix = ev.wall_ns / 1_000_000_000;
        if let Some(port) = listening_port(&ev.data) {
            let v = self.store.observe_listen(image, &port, now_unix);
            self.mark(ev, v);
            return;
        }
        // A refused exec ran nothing: it is neither learned nor checked.
        if !matches!(&ev.data, Data::Exec(x) if !x.denied()) {
            return;
        }
        let p = &ev.process;
        let Some(exe) = p.exec.exepath.as_deref() else {
            return;
        };
        let mut argv: Vec<&str> = Vec::with_capacity(p.exec.args.len() + 1);
        argv.push(p.exec.exe.as_deref().unwrap_or(&p.name));
        argv.extend(p.exec.args.iter().map(String::as_str));
        let parent = parent_class(p.exec.pexepath.as_deref());
        let v = self.store.observe(image, exe, parent, &argv, now_unix);
        self.mark(ev, v);
    }

    fn mark(&mut self, ev: &mut Event, v: monitor_stateful::baseline::Verdict) {
        match v.state {
            monitor_stateful::baseline::BaselineState::Learning => self.dirty = true,
            monitor_stateful::baseline::BaselineState::Enforcing => {
                ev.baseline = Some(BaselineMark {
                    in_baseline: v.in_baseline,
                    diff: v.summary(),
                });
            }
            _ => {}
        }
    }

    /// Write the baselines back to the directory if anything was learned
    /// since the last save.
    pub fn save(&mut self) -> Result<(), BaselineError> {
        if self.dirty {
            self.store.export(&self.dir)?;
            self.dirty = false;
        }
        Ok(())
    }
}

/// The port a successful `listen` (TCP), or `bind` of a UDP socket to a
/// port it chose (a UDP server; port 0 lets the kernel pick one for a
/// client), starts serving, as the baseline names it (`tcp/8080`).
fn listening_port(data: &Data) -> Option<String> {
    let Data::Syscall(s) = data else {
        return None;
    };
    if s.ret != 0 {
        return None;
    }
    let conn = s.conn.as_ref()?;
    let port = conn.local()?.port;
    let serving = match (&*s.name, conn.l4proto.as_str()) {
        ("listen", "tcp") => true,
        ("bind", "udp") => matches!(
            s.sockaddr,
            Some(SockAddr::Inet { port: p, .. } | SockAddr::Inet6 { port: p, .. }) if p != 0
        ),
        _ => false,
    };
    (serving && port != 0).then(|| monitor_stateful::baseline::listen_key(&conn.l4proto, port))
}

/// What an exec's parent counts as in a baseline. The runtime starts a
/// container's first process and its exec sessions, and which of its
/// programs the kernel names as the parent (runc, or the shim or conmon
/// once runc has exited) is a race: all of them are one parent.
fn parent_class(pexe: Option<&str>) -> Option<&str> {
    let base = pexe?.rsplit('/').next()?;
    let runtime = matches!(base, "runc" | "crun" | "conmon") || base.starts_with("containerd-shim");
    if runtime {
        Some(RUNTIME_PARENT)
    } else {
        pexe
    }
}

/// The parent of execs the container runtime started ([`parent_class`]).
const RUNTIME_PARENT: &str = "(container runtime)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::{build_event, parse_yaml_map};

    fn exec(yaml: &str, wall_s: u64) -> Event {
        let mut ev = build_event(&parse_yaml_map(yaml)).unwrap();
        ev.wall_ns = wall_s * 1_000_000_000;
        ev
    }

    #[test]
    fn learns_then_enforces_and_persists() {
        let dir = crate::testutil::TempDir::new("baselines");
        let mut st = BaselineStage::open(dir.path(), Duration::from_secs(60)).unwrap();
        let t0 = 1_800_000_000;
        let mut a = exec(
            "{evt.type: execve, proc.name: nginx, proc.exepath: /usr/sbin/nginx, proc.args: [-g, 'daemon off;'], proc.pname: sh, proc.anames: [sh, conmon]}",
            t0,
        );
        st.annotate(&mut a);
        assert_eq!(a.baseline, None, "learning: unmarked");
        st.save().unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);

        // After the period: the same exec is covered, a shell is not.
        let mut same = a.clone();
        same.wall_ns = (t0 + 61) * 1_000_000_000;
        same.baseline = None;
        st.annotate(&mut same);
        assert_eq!(same.baseline.as_ref().map(|b| b.in_baseline), Some(true));
        let mut shell = exec(
            "{evt.type: execve, proc.name: nc, proc.exepath: /usr/bin/nc, proc.args: [-l], proc.pname: sh, proc.anames: [sh, conmon]}",
            t0 + 62,
        );
        st.annotate(&mut shell);
        let b = shell.baseline.clone().unwrap();
        assert!(!b.in_baseline);
        assert!(b.diff.contains("/usr/bin/nc"), "{}", b.diff);

        // A new agent reading the directory enforces the same baseline.
        drop(st);
        let mut again = BaselineStage::open(dir.path(), Duration::from_secs(60)).unwrap();
        let mut shell2 = shell.clone();
        shell2.baseline = None;
        again.annotate(&mut shell2);
        assert_eq!(shell2.baseline, shell.baseline);

        // Host execs and containers without an image are not checked.
        let mut host = exec(
            "{evt.type: execve, proc.name: nc, proc.exepath: /usr/bin/nc, container.id: host}",
            t0 + 63,
        );
        again.annotate(&mut host);
        assert_eq!(host.baseline, None);
    }

    #[test]
    fn every_runtime_program_is_one_parent() {
        for p in [
            "/usr/sbin/runc",
            "/usr/bin/crun",
            "/usr/bin/conmon",
            "/usr/bin/containerd-shim-runc-v2",
        ] {
            assert_eq!(parent_class(Some(p)), Some(RUNTIME_PARENT), "{p}");
        }
        assert_eq!(parent_class(Some("/bin/sh")), Some("/bin/sh"));
        assert_eq!(parent_class(None), None);
    }

    #[test]
    fn a_bad_file_is_a_typed_error() {
        let dir = crate::testutil::TempDir::new("baselines-bad");
        std::fs::write(dir.path().join("x.toml"), "image = 1\n").unwrap();
        let err = BaselineStage::open(dir.path(), Duration::from_secs(60))
            .err()
            .expect("invalid file refused");
        assert!(err.to_string().contains("x.toml"), "{err}");
    }
}
