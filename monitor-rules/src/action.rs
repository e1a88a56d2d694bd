//! What a rule asks for beyond its alert: the events around it kept
//! (`capture`) and the kernel's enforcement (`action`). Below the loading
//! phases, which read these, and the rule set, which holds them.

/// Falco's `capture: true`: the alert asks for the events around it to be
/// kept (vigil's recorder has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture {
    /// `capture_duration` in milliseconds, if the rule set one.
    pub duration_ms: Option<u64>,
}

/// What a rule asks the kernel to do when enforcement is on (vigil's
/// extension of the rule format, docs/enforcement.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The LSM hook refuses the operation with `-EPERM`.
    Deny,
    /// The process is killed from the kernel.
    Kill,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "deny" => Some(Action::Deny),
            "kill" => Some(Action::Kill),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Kill => "kill",
        }
    }
}

/// A rule's `action` and the kernel checks it arms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforce {
    pub action: Action,
    /// `enforce_write`: final path components whose opening for writing
    /// (from a container) the action applies to.
    pub enforce_write: Vec<String>,
}
