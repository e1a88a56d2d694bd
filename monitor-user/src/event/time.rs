//! Time: kernel boot-time stamps to wall-clock time ([`Clock`]), and the
//! RFC 3339 text of the alert and event JSON and the command line
//! ([`rfc3339`], [`parse_rfc3339`]), with jiff doing the calendar.

/// Converts kernel boot-time stamps to wall-clock time.
///
/// The offset `CLOCK_REALTIME - CLOCK_BOOTTIME` is measured once at start:
/// every event then gets a wall time consistent with its kernel boot time,
/// whatever the delay before the agent reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    offset_ns: i128,
}

impl Clock {
    /// Measure the offset now.
    pub fn measure() -> Clock {
        // Read boottime between two realtime reads to halve the error.
        let r1 = clock_ns(libc::CLOCK_REALTIME);
        let b = clock_ns(libc::CLOCK_BOOTTIME);
        let r2 = clock_ns(libc::CLOCK_REALTIME);
        Clock {
            offset_ns: (r1 + r2) / 2 - b,
        }
    }

    pub fn with_offset(offset_ns: i128) -> Clock {
        Clock { offset_ns }
    }

    pub fn wall_ns(&self, boot_ns: u64) -> u64 {
        (boot_ns as i128 + self.offset_ns).clamp(0, u64::MAX as i128) as u64
    }

    /// Current `CLOCK_BOOTTIME` in ns (the kernel's event time base).
    pub fn boot_now() -> u64 {
        clock_ns(libc::CLOCK_BOOTTIME) as u64
    }
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; these clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

/// RFC 3339 UTC with nanoseconds: `2026-11-22T06:18:23.123456789Z`.
pub fn rfc3339(wall_ns: u64) -> String {
    let t = jiff::Timestamp::from_nanosecond(i128::from(wall_ns)).unwrap_or(jiff::Timestamp::MAX);
    format!("{t:.9}")
}

/// Nanoseconds since the epoch of an RFC 3339 time (`2026-11-22T06:18:23.5Z`,
/// `2026-11-22T08:18:23+02:00`), or of the same without an offset, taken as
/// UTC (`2026-11-22 06:18:23`).
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    // RFC 3339 wants seconds and `Z` or `+HH:MM`; jiff's ISO 8601 parser
    // also takes `06:18` and `+0200`, which we refuse.
    let b = s.as_bytes();
    if b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let frac = match b.get(19) {
        Some(b'.') => 1 + b[20..].iter().take_while(|c| c.is_ascii_digit()).count(),
        _ => 0,
    };
    let offset = &s[19 + frac..];
    let ns = match offset {
        "" => s
            .parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_nanosecond(),
        "Z" | "z" => s.parse::<jiff::Timestamp>().ok()?.as_nanosecond(),
        o if o.len() == 6 && matches!(b[19 + frac], b'+' | b'-') && o.as_bytes()[3] == b':' => {
            s.parse::<jiff::Timestamp>().ok()?.as_nanosecond()
        }
        _ => return None,
    };
    u64::try_from(ns).ok()
}
