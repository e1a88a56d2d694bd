//! Which fields are the context's: read only from the process, its exec
//! context, the container, the cgroup and the host name, so the same for
//! every event that shares them. What the rules learn about such fields
//! is carried from one event of a context to the next
//! (`detect/context_memo.rs`); those that are its command's (what it runs,
//! under which name, in which container) also to the first event of
//! another process of that command. A field placed here wrongly would
//! carry a wrong answer, which the tests
//! `context_fields_are_the_same_for_every_event_of_a_context` and
//! `command_fields_are_the_same_for_every_process_of_a_command` guard.

use monitor_rules::{Field, FieldId};

/// Whether `field`'s value, as [`super::EventFields`] gives it, is the
/// same for every event that carries the same process, container and
/// cgroup (the same `Arc`s, which nothing changes once shared): it reads
/// only them and the host's name, nothing of the event itself (its data,
/// number, times, baseline mark).
pub fn is_context_field(field: &Field) -> bool {
    is_command_field(field) || is_process_field(field)
}

/// Whether `field`'s value is the same for every event of every process
/// that runs the same command: the same exec context (`Process::exec`, the
/// same `Arc`) under the same name, in the same container and cgroup. It
/// reads only those and the host's name, nothing of the process's own
/// (its pids, user, session, namespaces: [`is_process_field`]).
pub fn is_command_field(field: &Field) -> bool {
    use FieldId as F;
    match field.id {
        F::EvtHostname
        | F::ProcName
        | F::ProcExe
        | F::ProcExepath
        | F::ProcCmdline
        | F::ProcArgs
        | F::ProcPname
        | F::ProcPexe
        | F::ProcPexepath
        | F::ProcPcmdline
        | F::ProcAname
        | F::ProcAnames
        | F::ProcAexepath
        | F::ProcAexe
        | F::ProcCwd
        | F::ProcEnv
        | F::ProcAenv
        | F::ProcStdinType
        | F::ProcStdinName
        | F::ProcStdoutType
        | F::ProcStdoutName
        | F::ProcIsExeUpperLayer
        | F::ProcIsExeLowerLayer
        | F::ProcIsExeWritable
        | F::ProcIsExeFromMemfd
        | F::ProcSname
        | F::ProcSidExe
        | F::ProcSidExepath
        | F::ProcVpgidName
        | F::ProcVpgidExe
        | F::ProcVpgidExepath
        | F::ContainerId
        | F::ContainerFullId
        | F::ContainerName
        | F::ContainerImage
        | F::ContainerImageRepository
        | F::ContainerImageTag
        | F::ContainerType
        | F::K8sPodUid
        | F::CgroupId
        | F::CgroupPath => true,
        // The container's runtime metadata, and who started it.
        id if crate::detect::container_fields::is_metadata_field(id) => true,
        id if crate::detect::container_fields::is_creator_field(id) => true,
        // The rest read the process's own or the event itself (its kind,
        // data, number, times and baseline mark: an exec's capabilities
        // come from its record, a duration from its time). Also the answer
        // for a field not placed here yet: never carried over, so never
        // wrong.
        _ => false,
    }
}

/// The context's fields that are the process's own, not its command's:
/// its pids (`proc.apid[0]` is its own), user and group, session and
/// namespaces.
fn is_process_field(field: &Field) -> bool {
    use FieldId as F;
    matches!(
        field.id,
        F::ProcPid
            | F::ThreadTid
            | F::ProcPpid
            | F::ProcVpid
            | F::ProcApid
            | F::UserUid
            | F::UserEuid
            | F::UserName
            | F::UserLoginuid
            | F::UserLoginname
            | F::GroupGid
            | F::GroupName
            | F::ProcTty
            | F::ProcSid
            | F::ProcVpgid
            | F::ProcIsSidLeader
            | F::ProcIsVpgidLeader
            | F::NsMnt
            | F::NsPid
            | F::NsNet
            | F::NsUser
            | F::NsUts
            | F::NsIpc
            | F::NsCgroup
    )
}
