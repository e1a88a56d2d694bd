//! The text forms of sizes and durations that rule fields (`[10s]`
//! windows) and the command line (`--record-segment-size 64MiB`,
//! `--since 2h`) share: a whole number and a unit, no spaces inside.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnitError {
    #[error("{0:?} is not a size like 64MiB")]
    NotASize(String),
    #[error("unknown size unit {0:?} (use K, M, G, T, KiB, MiB, GiB, TiB)")]
    SizeUnit(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
    #[error("{0:?} is not a duration like 30m")]
    NotADuration(String),
    #[error("{0:?}: use a number with ms, s, m, h or d")]
    DurationUnit(String),
    #[error("{0:?}: must be positive")]
    Zero(String),
}

/// `4096`, `64MiB`, `1G` (decimal K/M/G/T, binary KiB/MiB/GiB/TiB; any case).
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let (n, unit) = split(s).ok_or_else(|| UnitError::NotASize(s.to_owned()))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        u => return Err(UnitError::SizeUnit(u.to_owned())),
    };
    n.checked_mul(mult)
        .ok_or_else(|| UnitError::TooLarge(s.to_owned()))
}

/// `500ms`, `90s`, `30m`, `2h`, `1d`; zero is refused.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let (n, unit) = split(s).ok_or_else(|| UnitError::NotADuration(s.to_owned()))?;
    let ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(UnitError::DurationUnit(s.to_owned())),
    };
    let ms = n
        .checked_mul(ms)
        .ok_or_else(|| UnitError::TooLarge(s.to_owned()))?;
    if ms == 0 {
        return Err(UnitError::Zero(s.to_owned()));
    }
    Ok(Duration::from_millis(ms))
}

/// The leading number and the rest.
fn split(s: &str) -> Option<(u64, &str)> {
    let t = s.trim();
    let at = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(at);
    Some((n.parse().ok()?, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12parsecs")
            .unwrap_err()
            .to_string()
            .contains("unit"));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("s").is_err());
    }
}
