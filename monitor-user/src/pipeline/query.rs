//! Which recorded events a responder asked for (`vigil log show/query/
//! export`, `vigil replay`): a time range, a container (id prefix or name),
//! a pid, event types, and a rule-language condition (compiled by
//! `monitor_rules`, evaluated on [`crate::detect::fields::EventFields`]). Also owns
//! the parsing of times given on the command line (RFC 3339 or "ago").

use monitor_recorder::TimeRange;

use crate::event::time::parse_rfc3339;
use crate::event::Event;

/// A time on the command line that is neither RFC 3339 nor a relative age.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {input:?}: {reason} (expected RFC 3339 like 2026-11-22T06:18:23Z, a relative age like 10m / 2h / 3d ago from now, or nanoseconds since the epoch)")]
pub struct TimeError {
    pub input: String,
    pub reason: &'static str,
}

/// Parses `2026-11-22T06:18:23.5Z`, `2026-11-22T08:18:23+02:00`,
/// `2026-11-22 06:18:23` (UTC), `10m` / `90s` / `2h` / `1d` (before
/// `now_ns`), or a plain integer of ns since the epoch.
pub fn parse_time(input: &str, now_ns: u64) -> Result<u64, TimeError> {
    let err = |reason| TimeError {
        input: input.to_owned(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.len() >= 10 && s.as_bytes()[4] == b'-' {
        return parse_rfc3339(s).ok_or_else(|| err("not a valid RFC 3339 time"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| err("number out of range"));
    }
    let age = monitor_stateful::units::parse_duration(s)
        .map_err(|_| err("bad relative age (use a number with s, m, h or d)"))?;
    let ago = u64::try_from(age.as_nanos()).map_err(|_| err("too far back"))?;
    Ok(now_ns.saturating_sub(ago))
}

/// A rule-language condition (`--where`), evaluated on the rules engine's
/// view of an event.
#[derive(Debug)]
pub struct Condition {
    pub filter: monitor_rules::Filter,
    /// What `evt.hostname` answers.
    pub hostname: String,
}

/// Filters on recorded events; all given ones must hold.
#[derive(Debug, Default)]
pub struct Query {
    /// Wall-clock range, ns since the epoch, `[since, until)`.
    pub since: Option<u64>,
    pub until: Option<u64>,
    /// Container id prefix (12 or 64 hex), exact name, or `host`.
    pub container: Option<String>,
    pub pid: Option<u32>,
    /// `evt.type` values (any of them).
    pub types: Vec<String>,
    pub condition: Option<Condition>,
}

impl Query {
    /// The range handed to the reader, which skips whole segments outside it.
    pub fn time_range(&self) -> TimeRange {
        TimeRange::new(self.since, self.until)
    }

    /// Only a time range (which the reader applies): every event read
    /// matches.
    pub fn only_time(&self) -> bool {
        self.container.is_none()
            && self.pid.is_none()
            && self.types.is_empty()
            && self.condition.is_none()
    }

    pub fn matches(&self, ev: &Event) -> bool {
        if !self.time_range().contains(ev.wall_ns) {
            return false;
        }
        if self.pid.is_some_and(|p| ev.process.pid != p) {
            return false;
        }
        if !self.types.is_empty() && !self.types.iter().any(|t| t == ev.evt_type()) {
            return false;
        }
        if let Some(c) = &self.container {
            if !container_matches(ev, c) {
                return false;
            }
        }
        match &self.condition {
            Some(c) => c
                .filter
                .matches(&crate::detect::fields::EventFields::new(ev, &c.hostname)),
            None => true,
        }
    }
}

/// `c` names the event's container: `host`, a prefix of its id, or its name.
pub fn container_matches(ev: &Event, c: &str) -> bool {
    let k = &ev.container;
    if c == "host" {
        return k.id == "host";
    }
    let hex = !c.is_empty() && c.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && k.id != "host"
        && (k.id.starts_with(c) || k.full_id.as_deref().is_some_and(|f| f.starts_with(c))))
        || k.name.as_deref() == Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::rfc3339;

    const NOW: u64 = 1_795_328_303_123_456_789;

    #[test]
    fn rfc3339_round_trips_with_our_formatter() {
        for t in [0, 951_827_696_000_000_789, NOW, 4_102_444_799_999_999_999] {
            assert_eq!(parse_time(&rfc3339(t), NOW), Ok(t), "{}", rfc3339(t));
        }
        assert_eq!(
            parse_time("2026-11-22T08:18:23+02:00", NOW).unwrap(),
            parse_time("2026-11-22T06:18:23Z", NOW).unwrap()
        );
        assert_eq!(parse_time("2026-11-22 06:18:23.123456789", NOW), Ok(NOW));
        assert_eq!(
            parse_time("2026-11-22T06:18:23.5Z", NOW),
            Ok(NOW - 123_456_789 + 500_000_000)
        );
    }

    #[test]
    fn relative_ages_count_back_from_now() {
        assert_eq!(parse_time("10m", NOW), Ok(NOW - 600_000_000_000));
        assert_eq!(parse_time("90s", NOW), Ok(NOW - 90_000_000_000));
        assert_eq!(parse_time("2h", NOW), Ok(NOW - 7_200_000_000_000));
        assert_eq!(parse_time("1d", NOW), Ok(NOW - 86_400_000_000_000));
        assert_eq!(parse_time("123456789", NOW), Ok(123_456_789));
    }

    #[test]
    fn bad_times_say_what_is_expected() {
        for bad in [
            "",
            "yesterday",
            "10y",
            "2026-13-01T00:00:00Z",
            "2026-11-22T06:18",
            "2026-11-22T06:18:23+0200",
            "2026-11-22T06:18:23.Z",
        ] {
            let e = parse_time(bad, NOW).unwrap_err();
            assert!(e.to_string().contains("RFC 3339"), "{bad}: {e}");
        }
    }
}
