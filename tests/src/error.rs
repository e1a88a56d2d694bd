//! The one error type of the support library.
//!
//! Every failure names the command or file involved and carries what the
//! tool printed, so a failing integration test explains itself.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start `{cmd}`: {source}")]
    Spawn { cmd: String, source: std::io::Error },

    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("the agent exited ({status}) before logging `ready`; last log lines:\n{tail}")]
    AgentExited { status: String, tail: String },

    #[error("the agent did not log `ready` within {timeout:?}; last log lines:\n{tail}")]
    AgentNotReady { timeout: Duration, tail: String },

    #[error("the agent did not exit within {0:?} of SIGTERM")]
    AgentStuck(Duration),

    #[error("not a `stats` log line: {0}")]
    NotStats(String),

    #[error("bad `stats` JSON ({source}): {json}")]
    StatsJson {
        json: String,
        source: serde_json::Error,
    },

    #[error("agent stdout line {line} is not one JSON value ({source}): {text}")]
    StdoutJson {
        line: usize,
        text: String,
        source: serde_json::Error,
    },

    #[error("podman printed `{0}`, not a 64-hex container id")]
    BadContainerId(String),

    #[error("no cgroup v2 directory for container {0} under {1}")]
    NoContainerCgroup(String, PathBuf),

    #[error(
        "no cgroup v2 hierarchy mounted (looked at /sys/fs/cgroup and /sys/fs/cgroup/unified)"
    )]
    NoCgroup2,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
