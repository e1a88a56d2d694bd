//! Background durability: fdatasync of segment files and fsync of the log
//! directory run on their own thread, in submission order, so a slow disk
//! stalls neither the writer nor the agent behind it. A barrier waits for
//! everything submitted before it and reports any failure since the last
//! barrier; the durable sequence number advances only after a sync returns.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::WriteError;
use crate::stats::Counters;

enum Job {
    /// fdatasync `file`; then records up to `seq` are durable. The file is
    /// closed when the job is done (it is a dup or a retired segment).
    File {
        file: File,
        path: PathBuf,
        seq: Option<u64>,
    },
    /// fsync a directory so new or removed entries persist.
    Dir(PathBuf),
    Barrier(SyncSender<Result<(), WriteError>>),
}

pub(crate) struct Syncer {
    tx: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    pub(crate) fn spawn(counters: Arc<Counters>) -> Result<Self, WriteError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("vigil-recorder-sync".into())
            .spawn(move || {
                let mut failed: Option<WriteError> = None;
                for job in rx {
                    match job {
                        Job::File { file, path, seq } => match file.sync_data() {
                            Ok(()) => {
                                Counters::add(&counters.syncs, 1);
                                if let Some(seq) = seq {
                                    counters.raise_durable(seq);
                                }
                            }
                            Err(source) => {
                                Counters::add(&counters.sync_errors, 1);
                                failed.get_or_insert(WriteError::Io {
                                    path,
                                    op: "fdatasync",
                                    source,
                                });
                            }
                        },
                        Job::Dir(path) => {
                            if let Err(source) = File::open(&path).and_then(|d| d.sync_all()) {
                                Counters::add(&counters.sync_errors, 1);
                                failed.get_or_insert(WriteError::Io {
                                    path,
                                    op: "fsync directory",
                                    source,
                                });
                            }
                        }
                        Job::Barrier(ack) => {
                            let _ = ack.send(failed.take().map_or(Ok(()), Err));
                        }
                    }
                }
            })
            .map_err(|source| WriteError::Io {
                path: "vigil-recorder-sync thread".into(),
                op: "spawn",
                source,
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, job: Job) {
        if let Some(tx) = &self.tx {
            // The thread only ends when `tx` is dropped, in `Drop`.
            let _ = tx.send(job);
        }
    }

    pub(crate) fn sync_file(&self, file: File, path: PathBuf, seq: Option<u64>) {
        self.send(Job::File { file, path, seq });
    }

    pub(crate) fn sync_dir(&self, dir: PathBuf) {
        self.send(Job::Dir(dir));
    }

    /// Waits until every job submitted so far has run.
    pub(crate) fn wait(&self) -> Result<(), WriteError> {
        let (ack, done) = mpsc::sync_channel(1);
        self.send(Job::Barrier(ack));
        done.recv().map_err(|_| WriteError::Stopped)?
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
