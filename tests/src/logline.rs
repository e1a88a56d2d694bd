//! Reading the agent's stderr log (docs/events.md, "Stats line"; the log contract in docs/architecture.md).
//!
//! The agent logs one line per message in env_logger's style,
//! `[2026-11-22T06:18:25Z INFO  vigil] ready`. Tests and the benchmark care
//! about two messages: exactly `ready` (every probe attached) and
//! `stats {json}` (loss accounting, periodically and once at exit).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The message part of a log line: what follows the `[... level target] `
/// header, or the whole line if it has no such header.
pub fn message(line: &str) -> &str {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.starts_with('[') {
        if let Some(end) = line.find("] ") {
            return &line[end + 2..];
        }
    }
    line
}

/// Whether the line is the agent's `ready` message.
pub fn is_ready(line: &str) -> bool {
    message(line).trim() == "ready"
}

/// The JSON of a `stats {json}` line (docs/events.md, "Stats line"; the log contract in docs/architecture.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStats {
    /// Records read from the ring buffer.
    pub records: u64,
    /// Events produced from them.
    pub events: u64,
    /// Records that failed to decode (counted, skipped).
    pub malformed: u64,
    /// Ring-buffer reservation failures in the kernel, per event kind.
    pub kernel_drops: BTreeMap<String, u64>,
    /// Every loss the agent knows of.
    pub total_drops: u64,
    /// Syscall records the kernel's rate limit held back.
    #[serde(default)]
    pub throttled: u64,
    /// The flight recorder's counters, when it runs.
    #[serde(default)]
    pub recorder: Option<RecorderStats>,
}

/// The `recorder` object of a `stats` line (the fields the tests and the
/// benchmark read).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecorderStats {
    /// Events written to the log.
    pub written: u64,
    /// Events the recorder could not take (its queue was full).
    pub dropped: u64,
    /// Events lost to write errors.
    pub failed: u64,
}

impl AgentStats {
    /// Events lost anywhere: in the kernel (`total_drops`) and, when it
    /// runs, in the recorder (queue full or write errors). Events the
    /// recorder's flood budget summarised are not lost: the log says so.
    pub fn losses(&self) -> u64 {
        self.total_drops + self.recorder.as_ref().map_or(0, |r| r.dropped + r.failed)
    }

    /// Parses a log line whose message is `stats {json}`.
    pub fn from_log_line(line: &str) -> Result<AgentStats, Error> {
        let json = message(line)
            .strip_prefix("stats ")
            .ok_or_else(|| Error::NotStats(line.to_string()))?
            .trim();
        serde_json::from_str(json).map_err(|source| Error::StatsJson {
            json: json.to_string(),
            source,
        })
    }

    /// The last `stats` line among `lines` (the agent's final report once it has exited).
    pub fn last_in<'a>(
        lines: impl DoubleEndedIterator<Item = &'a str>,
    ) -> Option<Result<AgentStats, Error>> {
        lines
            .rev()
            .find(|l| message(l).starts_with("stats "))
            .map(AgentStats::from_log_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_after_env_logger_header() {
        assert_eq!(message("[2026-11-22T06:18:25Z INFO  vigil] ready"), "ready");
        assert_eq!(
            message("[2026-11-22T06:18:25Z INFO  vigil::agent] ready\n"),
            "ready"
        );
        assert_eq!(message("ready"), "ready");
        assert_eq!(message("[no header end"), "[no header end");
    }

    #[test]
    fn ready_is_exact() {
        assert!(is_ready("[t INFO  vigil] ready"));
        assert!(!is_ready("[t INFO  vigil] ready soon"));
        assert!(!is_ready("[t INFO  vigil] not ready"));
    }

    #[test]
    fn parses_stats_line() {
        let l = r#"[2026-11-22T06:18:25Z INFO  vigil] stats {"records":10,"events":9,"malformed":1,"kernel_drops":{"execve":2,"syscall":3},"total_drops":5}"#;
        let s = AgentStats::from_log_line(l).unwrap();
        assert_eq!(s.records, 10);
        assert_eq!(s.events, 9);
        assert_eq!(s.malformed, 1);
        assert_eq!(s.kernel_drops["syscall"], 3);
        assert_eq!(s.total_drops, 5);
    }

    #[test]
    fn stats_tolerates_added_fields() {
        let l = r#"stats {"records":1,"events":1,"malformed":0,"kernel_drops":{},"total_drops":0,"uptime_s":3}"#;
        assert_eq!(AgentStats::from_log_line(l).unwrap().records, 1);
    }

    #[test]
    fn bad_stats_lines_are_typed_errors() {
        assert!(matches!(
            AgentStats::from_log_line("[t INFO  vigil] ready"),
            Err(Error::NotStats(_))
        ));
        assert!(matches!(
            AgentStats::from_log_line("[t INFO  vigil] stats {\"records\":"),
            Err(Error::StatsJson { .. })
        ));
        assert!(matches!(
            AgentStats::from_log_line(r#"stats {"records":1}"#),
            Err(Error::StatsJson { .. })
        ));
    }

    #[test]
    fn last_stats_wins() {
        let lines = [
            r#"[a INFO  vigil] stats {"records":1,"events":1,"malformed":0,"kernel_drops":{},"total_drops":0}"#,
            "[b INFO  vigil] ready",
            r#"[c INFO  vigil] stats {"records":7,"events":7,"malformed":0,"kernel_drops":{"execve":1},"total_drops":1}"#,
            "[d INFO  vigil] detached",
        ];
        let s = AgentStats::last_in(lines.iter().copied()).unwrap().unwrap();
        assert_eq!(s.records, 7);
        assert!(AgentStats::last_in(["ready"].iter().copied()).is_none());
    }
}
