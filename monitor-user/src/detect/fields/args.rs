//! `evt.arg.*` and `evt.rawarg.*`: a syscall's decoded arguments (and the
//! per-kind arguments of other events) as rule values, with the few that
//! vigil derives (`evt.arg.uid` of the set*id calls, an open's flags).

use monitor_rules::Value;

use crate::event::sysargs::ArgValue;
use crate::event::{Data, Event, SyscallData};

/// `evt.rawarg.*`: flags as their number.
pub(super) fn raw_value(v: &ArgValue) -> Value<'_> {
    match v {
        ArgValue::Flags { raw, .. } => Value::Num(i64::try_from(*raw).unwrap_or(i64::MAX)),
        v => arg_value(v),
    }
}

pub(super) fn arg_value(v: &ArgValue) -> Value<'_> {
    match v {
        ArgValue::Int(i) => Value::Num(*i),
        ArgValue::Uint(u) => Value::Num(i64::try_from(*u).unwrap_or(i64::MAX)),
        ArgValue::Str(s) => Value::Str(s),
        ArgValue::Flags { text, .. } => Value::Str(text),
    }
}

/// `evt.arg.NAME`: the decoded syscall argument of that name, the per-kind
/// arguments of non-syscall events, and vigil's derived `evt.arg.uid`.
pub(super) fn named_arg<'e>(ev: &'e Event, name: &str) -> Option<Value<'e>> {
    match &ev.data {
        Data::Syscall(s) => {
            if name == "uid" {
                if let Some(uid) = effective_id(s) {
                    return Some(Value::Num(uid));
                }
            }
            s.args
                .iter()
                .find(|a| a.name == name)
                .map(|a| arg_value(&a.value))
        }
        Data::Exec(x) => match name {
            "filename" => Some(Value::Str(&x.filename)),
            "argc" => Some(Value::Num(x.argc.into())),
            "enforcement" => x.enforcement.as_deref().map(Value::Str),
            _ => None,
        },
        Data::Clone(c) => match name {
            "flags" => Some(Value::Str(&c.flags_text)),
            "child_pid" => Some(Value::Num(c.child_pid.into())),
            "child_tid" => Some(Value::Num(c.child_tid.into())),
            _ => None,
        },
        Data::Exit(x) => match name {
            "status" => Some(Value::Num(x.status.into())),
            "ret" => Some(Value::Num(x.raw.into())),
            "core" => Some(Value::Bool(x.core_dumped)),
            _ => None,
        },
        Data::ModuleLoad { name: m } => (name == "name").then_some(Value::Str(m)),
        Data::CgroupMkdir(g) | Data::CgroupRmdir(g) => match name {
            "id" => Some(Value::Num(i64::try_from(g.id).unwrap_or(i64::MAX))),
            "path" => Some(Value::Str(&g.path)),
            "level" => Some(Value::Num(g.level.into())),
            _ => None,
        },
        Data::OomKill {
            victim_pid,
            victim_name,
        } => match name {
            "victim_pid" => Some(Value::Num((*victim_pid).into())),
            "victim_name" => victim_name.as_deref().map(Value::Str),
            _ => None,
        },
        Data::ContainerStats(_) | Data::Dns(_) => None,
        Data::Throttled(t) => match name {
            "by" => Some(Value::Str(t.by.name())),
            "kind" => Some(Value::Str(&t.kind)),
            "count" => Some(Value::Num(i64::try_from(t.count).unwrap_or(i64::MAX))),
            _ => None,
        },
    }
}

/// The id a set*id call makes effective (`evt.arg.uid`; the gid for the
/// setgid family): `uid`/`gid` for setuid/setfsuid/setgid/setfsgid, the
/// `euid`/`egid` argument for the re/res variants. `-1` (unchanged) is none.
pub(super) fn effective_id(s: &SyscallData) -> Option<i64> {
    let key = match &*s.name {
        "setuid" | "setfsuid" => "uid",
        "setgid" | "setfsgid" => "gid",
        "setreuid" | "setresuid" => "euid",
        "setregid" | "setresgid" => "egid",
        _ => return None,
    };
    let v = s.args.iter().find(|a| a.name == key)?;
    match v.value {
        ArgValue::Int(i) if i >= 0 => Some(i),
        _ => None,
    }
}

pub(super) fn is_open(name: &str) -> bool {
    matches!(name, "open" | "openat" | "openat2" | "creat")
}

/// Raw open flags of an open-family syscall.
pub(super) fn open_flags(s: &SyscallData) -> Option<u64> {
    if !is_open(&s.name) {
        return None;
    }
    s.args.iter().find_map(|a| match (&*a.name, &a.value) {
        ("flags", ArgValue::Flags { raw, .. }) => Some(*raw),
        _ => None,
    })
}
