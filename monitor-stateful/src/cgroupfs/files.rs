//! The open files of one cgroup reader, and the descriptor budget they share.
//!
//! A sampling pass reads the same few small files of every container each
//! second. Opening each one every time cost most of a pass (a path walk
//! through kernfs, an allocation, a close), so [`Files`] keeps each file
//! open and reads it again with `pread` from offset 0, which kernfs
//! answers with fresh contents. A read that fails on a held file (its
//! cgroup was removed, perhaps recreated under the same path) closes it and
//! opens the path once more, so a recreated cgroup is read, never a stale
//! descriptor. A file that cannot be opened is tried again only every
//! [`RETRY_PASSES`] passes. Held descriptors count against the [`FdBudget`]
//! every reader shares; past it, or once `open` reports EMFILE/ENFILE,
//! further files are opened for each read and closed again, with one
//! warning. Dropping a [`Files`] closes its files.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Passes between attempts to open a file that could not be opened (a
/// controller not enabled yet, a file this kernel lacks).
pub const RETRY_PASSES: u64 = 30;

/// Descriptors kept for the rest of the process (BPF objects, sockets,
/// outputs, `/proc` reads: about 300 for the agent at idle) below the soft
/// `RLIMIT_NOFILE`, at least; an eighth of a larger limit is kept too.
const RESERVED_FDS: u64 = 1024;

/// The first read buffer: every cgroup file but a large `memory.stat` fits.
const BUF_BYTES: usize = 8192;

/// Which hierarchy directory of a cgroup a file lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    V2,
    Memory,
    Pids,
    Cpu,
    Cpuacct,
    Blkio,
}

/// This process's `RLIMIT_NOFILE`.
fn nofile_limit() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (the
/// default soft limit, often 1024, is far below what holding a few files of
/// 1,000 containers takes) and returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = nofile_limit()?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// How many cgroup files the readers may keep open, shared by all of them.
#[derive(Debug)]
pub struct FdBudget {
    held: Arc<AtomicUsize>,
    limit: usize,
    warned: bool,
}

impl FdBudget {
    /// The soft `RLIMIT_NOFILE` less [`RESERVED_FDS`] or an eighth of it,
    /// whichever is more (raise the soft limit to the hard one first).
    pub fn from_rlimit() -> FdBudget {
        let soft = nofile_limit().map_or(1024, |l| l.rlim_cur).min(1 << 24);
        FdBudget::new(soft.saturating_sub(RESERVED_FDS.max(soft / 8)) as usize)
    }

    pub fn new(limit: usize) -> FdBudget {
        FdBudget {
            held: Arc::new(AtomicUsize::new(0)),
            limit,
            warned: false,
        }
    }

    /// Files held open now, by every reader.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether one more file may be held; counts it if so.
    fn take(&mut self) -> bool {
        let held = self.held();
        if held < self.limit {
            self.held.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.warn(format_args!("{held} files held, the budget"));
        false
    }

    /// `open` failed with EMFILE/ENFILE: hold no more than now.
    fn exhausted(&mut self, e: &io::Error) {
        self.limit = self.limit.min(self.held());
        self.warn(format_args!("open: {e}"));
    }

    fn warn(&mut self, why: std::fmt::Arguments) {
        if !self.warned {
            self.warned = true;
            log::warn!(
                "cgroup sampling is short of file descriptors ({why}; limit {}): further cgroup files are opened for each read, which costs more CPU; raise RLIMIT_NOFILE",
                self.limit
            );
        }
    }
}

/// What a sampling pass reads through: the shared buffer and budget, and
/// the pass number (for retries).
#[derive(Debug)]
pub struct ReadCtx {
    buf: Vec<u8>,
    pub(crate) budget: FdBudget,
    pub(crate) pass: u64,
    /// Per [`crate::psi::PsiResource::ALL`]: the host's stall totals moved
    /// since the last pass, so a cgroup's may have (the host's are the
    /// sum over every cgroup). Unknown counts as moved.
    pub(crate) psi_moved: [bool; 3],
}

impl ReadCtx {
    pub fn new(budget: FdBudget) -> ReadCtx {
        ReadCtx {
            buf: vec![0; BUF_BYTES],
            budget,
            pass: 0,
            psi_moved: [true; 3],
        }
    }
}

#[derive(Debug)]
enum State {
    /// Not open: open at the next read.
    Closed,
    Open(File),
    /// Could not be opened; tried again from this pass on.
    Failed {
        retry_at: u64,
    },
}

#[derive(Debug)]
struct Entry {
    dir: Dir,
    name: &'static str,
    state: State,
}

/// The files one reader has read, open where the budget allows.
#[derive(Debug, Default)]
pub struct Files {
    entries: Vec<Entry>,
    /// The budget's count, once this reader holds a file.
    held: Option<Arc<AtomicUsize>>,
    /// A held file failed and was opened again since the last
    /// [`Files::take_reopened`].
    reopened: bool,
}

impl Files {
    /// Whether [`Files::take_reopened`] would say so, without clearing it.
    pub fn reopened(&self) -> bool {
        self.reopened
    }

    /// Whether a held file went stale (and was opened again) since the
    /// last call.
    pub fn take_reopened(&mut self) -> bool {
        std::mem::take(&mut self.reopened)
    }

    /// Try every file that could not be opened again at the next read.
    pub fn retry_failed(&mut self) {
        for e in &mut self.entries {
            if let State::Failed { .. } = e.state {
                e.state = State::Closed;
            }
        }
    }

    /// Files held open by this reader.
    pub fn open(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, State::Open(_)))
            .count()
    }

    /// The whole of `name` in `path` (the directory `dir` of the cgroup),
    /// `None` on any error or if it is not UTF-8.
    pub fn read<'b>(
        &mut self,
        ctx: &'b mut ReadCtx,
        path: &Path,
        dir: Dir,
        name: &'static str,
    ) -> Option<&'b str> {
        let i = match self
            .entries
            .iter()
            .position(|e| e.dir == dir && e.name == name)
        {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    dir,
                    name,
                    state: State::Closed,
                });
                self.entries.len() - 1
            }
        };
        let len = match &self.entries[i].state {
            State::Open(f) => match read_all(f, &mut ctx.buf) {
                Ok(n) => Some(n),
                Err(_) => {
                    // Removed, perhaps recreated: open the path again.
                    self.close(i);
                    self.reopened = true;
                    None
                }
            },
            State::Failed { retry_at } if ctx.pass < *retry_at => return None,
            _ => None,
        };
        let len = match len {
            Some(n) => n,
            None => self.open_and_read(i, ctx, path)?,
        };
        std::str::from_utf8(&ctx.buf[..len]).ok()
    }

    fn open_and_read(&mut self, i: usize, ctx: &mut ReadCtx, path: &Path) -> Option<usize> {
        let e = &mut self.entries[i];
        let f = match File::open(path.join(e.name)) {
            Ok(f) => f,
            Err(err) => {
                e.state = match err.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE) => {
                        ctx.budget.exhausted(&err);
                        State::Closed
                    }
                    _ => State::Failed {
                        retry_at: ctx.pass + RETRY_PASSES,
                    },
                };
                return None;
            }
        };
        let n = read_all(&f, &mut ctx.buf).ok();
        if n.is_some() && ctx.budget.take() {
            self.held.get_or_insert_with(|| ctx.budget.held.clone());
            e.state = State::Open(f);
        } else {
            e.state = State::Closed;
        }
        n
    }

    fn close(&mut self, i: usize) {
        if let State::Open(_) = std::mem::replace(&mut self.entries[i].state, State::Closed) {
            if let Some(h) = &self.held {
                h.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        if let Some(h) = &self.held {
            h.fetch_sub(self.open(), Ordering::Relaxed);
        }
    }
}

/// Reads `f` from offset 0 into `buf` (grown when a file fills it), and
/// returns the length. A short read is the end: kernfs fills the buffer
/// as far as the file goes, so one `pread` reads a small file.
fn read_all(f: &File, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match f.read_at(&mut buf[len..], len as u64) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        len += n;
        if n == 0 || len < buf.len() {
            return Ok(len);
        }
    }
}
