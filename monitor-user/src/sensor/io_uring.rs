//! Attaching the io_uring programs (`monitor_common::io_uring`): the
//! submit and completion tracepoints, once this kernel is known to have
//! them with the expected record layout and its BTF has every struct
//! member the programs read. Anything missing leaves both detached, with
//! the reason in their [`HookStatus`] and io_uring named as a gap
//! ([`gaps`]). Tracepoint mode only: in LSM mode the `file_open` and
//! `socket_connect` hooks see io_uring's opens and connects.

use std::path::Path;

use aya::Ebpf;
use monitor_common::io_uring as iou;
use monitor_common::names::programs as P;

use super::attach::attach_classic;
use super::links::Links;
use super::loader::tracepoint_exists;
use super::offsets::Missing;
use super::{HookStatus, Mode};

/// Attach both programs, or neither (LSM mode needs neither). Returns
/// their statuses.
pub(super) fn attach(
    ebpf: &mut Ebpf,
    links: &mut Links,
    tracefs: &Path,
    missing: &[Missing],
    mode: Mode,
) -> Vec<HookStatus> {
    if mode == Mode::Lsm {
        return Vec::new();
    }
    let submit = submit_tracepoint(tracefs);
    let status = |tp: &str, attached| HookStatus {
        name: format!("{}/{tp}", iou::CATEGORY),
        kind: "tracepoint",
        attached,
    };
    let missing: Vec<(&str, &str)> = missing.iter().map(|m| (m.path, &*m.reason)).collect();
    if let Err(e) = supported(tracefs, &missing) {
        return vec![
            status(iou::COMPLETE_TRACEPOINT, Err(e.clone())),
            status(submit, Err(e)),
        ];
    }
    // Completion first: a submit without it would only fill the pending map.
    let complete = attach_classic(
        ebpf,
        links,
        P::IO_URING_COMPLETE,
        iou::CATEGORY,
        iou::COMPLETE_TRACEPOINT,
    );
    let submitted = match &complete {
        Ok(()) => attach_classic(ebpf, links, P::IO_URING_SUBMIT, iou::CATEGORY, submit),
        Err(_) => Err(format!("{} was refused", iou::COMPLETE_TRACEPOINT)),
    };
    vec![
        status(iou::COMPLETE_TRACEPOINT, complete),
        status(submit, submitted),
    ]
}

/// The submit tracepoint's name on this kernel.
fn submit_tracepoint(tracefs: &Path) -> &'static str {
    iou::SUBMIT_TRACEPOINTS
        .iter()
        .find(|tp| tracepoint_exists(tracefs, iou::CATEGORY, tp))
        .copied()
        .unwrap_or(iou::SUBMIT_TRACEPOINTS[0])
}

/// Whether this kernel has what the programs read: every struct member
/// (`missing`: the members BTF lacks, with why) and both tracepoints with
/// the expected layout. `Ok` names the submit tracepoint.
pub(super) fn supported(tracefs: &Path, missing: &[(&str, &str)]) -> Result<&'static str, String> {
    for (path, reason) in missing {
        if iou::MEMBERS.contains(path) {
            return Err(format!("kernel BTF lacks {path}: {reason}"));
        }
    }
    let submit = submit_tracepoint(tracefs);
    check_format(tracefs, submit, iou::SUBMIT_FIELDS)?;
    check_format(tracefs, iou::COMPLETE_TRACEPOINT, iou::COMPLETE_FIELDS)?;
    Ok(submit)
}

/// The tracepoint's `format` file has each field at the offset the
/// program reads it from.
fn check_format(tracefs: &Path, tp: &str, fields: &[(&str, usize)]) -> Result<(), String> {
    let path = tracefs
        .join("events")
        .join(iou::CATEGORY)
        .join(tp)
        .join("format");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("tracepoint {}/{tp}: {}: {e}", iou::CATEGORY, path.display()))?;
    for &(name, want) in fields {
        match field_offset(&text, name) {
            Some(at) if at == want => {}
            Some(at) => {
                return Err(format!(
                    "{}/{tp}: field {name} at offset {at}, the program reads it at {want}",
                    iou::CATEGORY
                ))
            }
            None => return Err(format!("{}/{tp}: no field {name}", iou::CATEGORY)),
        }
    }
    Ok(())
}

/// The offset of `name` in a tracefs format file
/// (`field:void * req;\toffset:16;\tsize:8;\tsigned:0;`).
fn field_offset(format: &str, name: &str) -> Option<usize> {
    format.lines().find_map(|line| {
        let mut parts = line.trim().split(';');
        let decl = parts.next()?.strip_prefix("field:")?;
        let field = decl.rsplit([' ', '*']).next()?;
        if field != name {
            return None;
        }
        parts
            .find_map(|p| p.trim().strip_prefix("offset:"))
            .and_then(|o| o.parse().ok())
    })
}

/// What the sensor does not cover: its mode's gaps, and in tracepoint
/// mode io_uring's operations unless its hooks are attached.
pub fn gaps(mode: Mode, hooks: &[HookStatus]) -> Vec<&'static str> {
    let mut gaps = mode.gaps().to_vec();
    if mode == Mode::Lsm {
        return gaps;
    }
    let prefix = format!("{}/", iou::CATEGORY);
    let attached = hooks
        .iter()
        .filter(|h| h.name.starts_with(&prefix))
        .all(|h| h.attached.is_ok());
    let any = hooks.iter().any(|h| h.name.starts_with(&prefix));
    if !(any && attached) {
        gaps.push(iou::GAP);
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBMIT: &str = "name: io_uring_submit_req
ID: 2140
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:void * ctx;\toffset:8;\tsize:8;\tsigned:0;
\tfield:void * req;\toffset:16;\tsize:8;\tsigned:0;
\tfield:unsigned long long user_data;\toffset:24;\tsize:8;\tsigned:0;
\tfield:u8 opcode;\toffset:32;\tsize:1;\tsigned:0;
\tfield:__data_loc char[] op_str;\toffset:52;\tsize:4;\tsigned:0;
";

    #[test]
    fn reads_field_offsets_from_a_format_file() {
        assert_eq!(field_offset(SUBMIT, "req"), Some(16));
        assert_eq!(field_offset(SUBMIT, "user_data"), Some(24));
        assert_eq!(field_offset(SUBMIT, "opcode"), Some(32));
        assert_eq!(field_offset(SUBMIT, "op_str"), Some(52));
        assert_eq!(field_offset(SUBMIT, "ctx"), Some(8));
        assert_eq!(field_offset(SUBMIT, "res"), None);
    }

    #[test]
    fn this_kernels_tracepoints_have_the_expected_layout() {
        let tracefs = Path::new(super::super::loader::TRACEFS);
        let events = tracefs.join("events").join(iou::CATEGORY);
        if !events.is_dir() {
            let why = format!("{} not readable (root needed)", events.display());
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("SKIPPED: {why}");
            return;
        }
        assert_eq!(supported(tracefs, &[]), Ok("io_uring_submit_req"));
        let lacking = supported(tracefs, &[("io_open.filename", "no such member")]);
        assert!(lacking.unwrap_err().contains("io_open.filename"));
    }

    #[test]
    fn io_uring_is_a_gap_in_tracepoint_mode_unless_its_hooks_are_attached() {
        let hook = |attached: Result<(), String>| HookStatus {
            name: "io_uring/io_uring_complete".into(),
            kind: "tracepoint",
            attached,
        };
        // LSM mode: the LSM hooks see io_uring's opens and connects.
        assert_eq!(gaps(Mode::Lsm, &[]), Vec::<&str>::new());
        let tp = gaps(Mode::Tracepoints, &[hook(Ok(()))]);
        assert!(!tp.contains(&iou::GAP) && !tp.is_empty());
        assert!(gaps(Mode::Tracepoints, &[]).contains(&iou::GAP));
        assert!(gaps(Mode::Tracepoints, &[hook(Err("no".into()))]).contains(&iou::GAP));
    }
}
