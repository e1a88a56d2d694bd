//! Rule fixtures (tests only): compact YAML descriptions of events, turned
//! into real [`Event`]s and run through the real engine with the embedded
//! default rules.
//!
//! `rules/fixtures/*.yaml` holds, per default rule, events that must raise
//! it (`match`) and near misses that must not (`no_match`):
//!
//! ```yaml
//! - rule: Read of shadow or sudoers file in container
//!   match:
//!     - {evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat}
//!   no_match:
//!     - {evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat, container.id: host}
//! ```
//!
//! An event is a flat map of Falco field names; [`build_event`] fills the
//! rest with a plain process in a podman container (see its doc for the
//! keys and defaults).

mod values;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::event::sysargs::{Arg, ArgValue, Conn, Endpoint, SockAddr};
use crate::event::Runtime;
use crate::event::{
    Ancestor, Cgroup, CloneData, Container, Data, Event, ExecContext, ExecData, ExitData,
    Namespaces, Process, SyscallData,
};

use values::{boolean, cap_mask, open_flag_bits, port, string, strings, uint};
pub use values::{parse_yaml, parse_yaml_map};

pub const FULL_ID: &str = "c0ffee1234abcd5678ef90c0ffee1234abcd5678ef90c0ffee1234abcd5678";

/// The `fd.*` keys of a socket event: with `fd.sip` or `fd.cip` the event
/// carries a [`Conn`] and its `fd.name` defaults to `client->server`.
#[derive(Default)]
struct NetKeys {
    cip: Option<String>,
    sip: Option<String>,
    cport: u16,
    sport: u16,
    l4proto: Option<String>,
    is_server: bool,
    sip_name: Option<String>,
    cip_name: Option<String>,
}

impl NetKeys {
    fn conn(&self) -> Option<Conn> {
        if self.cip.is_none() && self.sip.is_none() {
            return None;
        }
        let end = |ip: &Option<String>, port| {
            ip.as_ref().map(|ip| Endpoint {
                ip: ip.clone(),
                port,
            })
        };
        let server = end(&self.sip, self.sport);
        let family = match &server {
            Some(e) if e.ip.contains(':') => "ipv6",
            _ => "ipv4",
        };
        Some(Conn {
            family: family.into(),
            l4proto: self.l4proto.clone().unwrap_or_else(|| "tcp".into()),
            client: end(&self.cip, self.cport),
            server,
            local_is_server: self.is_server,
            connected: self.cip.is_some() && self.sip.is_some(),
            server_name: self.sip_name.clone(),
            client_name: self.cip_name.clone(),
        })
    }
}

/// The canonical text of a resource field key (`container.fork_rate[10s]`).
fn resource_field(key: &str) -> Option<String> {
    let (name, arg) = match key.split_once('[') {
        Some((n, rest)) => (n, Some(rest.strip_suffix(']')?)),
        None => (key, None),
    };
    match monitor_rules::Field::lookup(name, arg) {
        monitor_rules::Lookup::Supported(f, _) if f.id == monitor_rules::FieldId::Resource => {
            Some(f.name())
        }
        _ => None,
    }
}

/// The boot time of every fixture event.
const BOOT_NS: u64 = 12_345_000_000_000;

/// The session or group leader a fixture key fills in, created on first use.
fn leader(l: &mut Option<crate::event::Leader>) -> &mut crate::event::Leader {
    l.get_or_insert_with(|| crate::event::Leader {
        name: "".into(),
        exe: None,
        exepath: None,
    })
}

/// The standard fd a fixture key fills in, created on first use.
fn std_fd(fd: &mut Option<crate::event::StdFd>) -> &mut crate::event::StdFd {
    fd.get_or_insert_with(|| crate::event::StdFd {
        kind: "file".into(),
        name: String::new(),
    })
}

/// Build an event from Falco-named keys.
///
/// Keys: `evt.type` (required: `execve`, `clone`, `procexit` or a syscall
/// name), `evt.failed` (true: ret -1 EPERM), `evt.rawres`, `evt.arg.NAME`
/// (numbers stay numbers; open `flags` like `O_WRONLY|O_CREAT` get their
/// raw bits; other text is kept as symbolic text), `fd.name` (open path,
/// or a connect or dup peer: `/path` unix socket or `ip:port`), `proc.pid`,
/// `proc.ppid`, `proc.vpid`, `proc.name`, `proc.exepath`, `proc.args`,
/// `proc.pname`, `proc.anames` (parent first), `proc.is_exe_upper_layer`,
/// `proc.is_exe_from_memfd`, `user.uid`, `user.euid`, `group.gid`,
/// `container.id` (`host`, else the default container), `container.name`,
/// `container.image`, `target.is_vigil`, `thread.cap_effective` and
/// `thread.cap_permitted` (capability names), `user.name`, `proc.cwd`,
/// `proc.exe` (argv[0]; default: the exepath), `proc.stdin.type`,
/// `proc.stdin.name`, `proc.stdout.type`, `proc.stdout.name` (a failed
/// `execve` is the syscall, unless `evt.arg.enforcement` says the exec LSM
/// hook refused it: `denied`, with `evt.failed: true`), `proc.duration` (ns since
/// the process started), `fd.nameraw` (same as `fd.name`: the path as
/// passed), `proc.tty`, `proc.sid`, `proc.vpgid`, `user.loginuid` (-1:
/// never set), `user.loginname`, the leaders' `proc.sname`, `proc.sid.exe`,
/// `proc.sid.exepath`, `proc.vpgid.name`, `proc.vpgid.exe`,
/// `proc.vpgid.exepath`, `fd.cip.name`, `group.name`, `proc.env` (a list of `NAME=value`),
/// `proc.aenv` (a list of such lists, parent first); for `evt.type: container_stats`
/// any resource field (`container.fork_rate[10s]: 250`, `user.nproc: 10`)
/// and `user.nproc_top_container`, `host.io_stalled_container`,
/// `user.inotify_top_container`, `fs.path`, `fs.top_writer`, `fs.writers`.
pub fn build_event(m: &BTreeMap<String, Json>) -> Result<Event, String> {
    let get = |k: &str| m.get(k);
    let evt_type = string(get("evt.type").ok_or("evt.type is required")?, "evt.type")?;
    let name = match get("proc.name") {
        Some(v) => string(v, "proc.name")?,
        None => "app".into(),
    };
    let mut x = ExecContext {
        exepath: Some(format!("/usr/bin/{name}").into()),
        is_exe_upper_layer: Some(false),
        is_exe_writable: Some(false),
        is_exe_from_memfd: Some(false),
        ..Default::default()
    };
    let mut p = Process {
        pid: 4242,
        tid: 4242,
        ppid: 4200,
        name: name.into(),
        ns: Namespaces {
            mnt: 4026532500,
            pid: 4026532501,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut c = Container {
        id: FULL_ID[..12].into(),
        full_id: Some(FULL_ID.into()),
        runtime: Runtime::Podman,
        name: Some("web".into()),
        image: Some("docker.io/library/nginx:1.25".into()),
        pod_uid: None,
        qos: None,
        meta: None,
        unresolved: None,
        creator: None,
    };
    let mut creator = crate::event::container::Creator::default();
    let mut failed = false;
    let mut rawres: Option<i64> = None;
    let mut fd_name: Option<String> = None;
    let mut net = NetKeys::default();
    let mut args: Vec<Arg> = Vec::new();
    let mut target_is_vigil = None;
    let mut exe: Option<crate::event::Text> = None;
    let mut aenv: Vec<Vec<String>> = Vec::new();
    let mut baseline: Option<crate::event::BaselineMark> = None;
    let mut stats = crate::event::StatsData::default();
    let mut meta = crate::event::container::ContainerMeta::default();
    for (k, v) in m {
        if let Some(f) = resource_field(k) {
            let n = v.as_f64().ok_or_else(|| format!("{k}: not a number"))?;
            stats.values.push((f, n));
            continue;
        }
        match k.as_str() {
            "evt.type" | "proc.name" => {}
            "evt.failed" => failed = boolean(v, k)?,
            "evt.rawres" => rawres = v.as_i64(),
            "fd.name" | "fd.nameraw" => fd_name = Some(string(v, k)?),
            "fd.cip" => net.cip = Some(string(v, k)?),
            "fd.sip" => net.sip = Some(string(v, k)?),
            "fd.cport" => net.cport = port(v, k)?,
            "fd.sport" => net.sport = port(v, k)?,
            "fd.l4proto" => net.l4proto = Some(string(v, k)?),
            "fd.is_server" => net.is_server = boolean(v, k)?,
            "fd.sip.name" => net.sip_name = Some(string(v, k)?),
            "fd.cip.name" => net.cip_name = Some(string(v, k)?),
            "thread.cap_effective" => x.cap_effective = Some(cap_mask(&string(v, k)?)?),
            "thread.cap_permitted" => x.cap_permitted = Some(cap_mask(&string(v, k)?)?),
            "proc.duration" => {
                let d = v.as_u64().ok_or_else(|| format!("{k}: expected ns"))?;
                p.start_boot_ns = Some(BOOT_NS.checked_sub(d).ok_or("proc.duration too long")?);
            }
            "proc.pid" => {
                p.pid = uint(v, k)?;
                p.tid = p.pid;
            }
            "proc.ppid" => p.ppid = uint(v, k)?,
            "proc.vpid" => p.vpid = Some(uint(v, k)?),
            "proc.tty" => p.session.get_or_insert_default().tty = uint(v, k)?,
            "proc.sid" => p.session.get_or_insert_default().sid = uint(v, k)?,
            "proc.vpgid" => p.session.get_or_insert_default().vpgid = uint(v, k)?,
            "user.loginuid" => {
                let id = v
                    .as_i64()
                    .ok_or_else(|| format!("{k}: expected a number"))?;
                p.loginuid = Some(id as u32);
            }
            "group.name" => p.group_name = Some(string(v, k)?.into()),
            "user.loginname" => p.login_name = Some(string(v, k)?.into()),
            // A leader's name, argv[0] and executable path.
            "proc.sname" => leader(&mut x.sid_leader).name = string(v, k)?.into(),
            "proc.sid.exe" => leader(&mut x.sid_leader).exe = Some(string(v, k)?.into()),
            "proc.sid.exepath" => leader(&mut x.sid_leader).exepath = Some(string(v, k)?.into()),
            "proc.vpgid.name" => leader(&mut x.vpgid_leader).name = string(v, k)?.into(),
            "proc.vpgid.exe" => leader(&mut x.vpgid_leader).exe = Some(string(v, k)?.into()),
            "proc.vpgid.exepath" => {
                leader(&mut x.vpgid_leader).exepath = Some(string(v, k)?.into())
            }
            "proc.exepath" => x.exepath = Some(string(v, k)?.into()),
            "proc.exe" => exe = Some(string(v, k)?.into()),
            "proc.args" => x.args = strings(v, k)?.into(),
            "proc.pname" => x.pname = Some(string(v, k)?.into()),
            "proc.anames" => {
                x.ancestors = strings(v, k)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, name)| Ancestor {
                        pid: 4200 - i as u32 * 10,
                        name: name.into(),
                        exe: None,
                        exepath: None,
                        env: None,
                    })
                    .collect()
            }
            "proc.is_exe_upper_layer" => x.is_exe_upper_layer = Some(boolean(v, k)?),
            "proc.is_exe_lower_layer" => x.is_exe_lower_layer = Some(boolean(v, k)?),
            "proc.is_exe_writable" => x.is_exe_writable = Some(boolean(v, k)?),
            "proc.is_exe_from_memfd" => x.is_exe_from_memfd = Some(boolean(v, k)?),
            "user.uid" => p.uid = uint(v, k)?,
            "user.name" => p.user_name = Some(string(v, k)?.into()),
            "proc.cwd" => x.cwd = Some(string(v, k)?),
            "proc.env" => x.env = Some(strings(v, k)?.into()),
            "proc.aenv" => {
                aenv = v
                    .as_array()
                    .ok_or_else(|| format!("{k}: expected a list of lists, parent first"))?
                    .iter()
                    .map(|e| strings(e, k))
                    .collect::<Result<_, _>>()?
            }
            "proc.stdin.type" => std_fd(&mut x.stdin).kind = string(v, k)?,
            "proc.stdin.name" => std_fd(&mut x.stdin).name = string(v, k)?,
            "proc.stdout.type" => std_fd(&mut x.stdout).kind = string(v, k)?,
            "proc.stdout.name" => std_fd(&mut x.stdout).name = string(v, k)?,
            "user.euid" => p.euid = uint(v, k)?,
            "group.gid" => p.gid = uint(v, k)?,
            "container.id" => {
                let id = string(v, k)?;
                if id == "host" {
                    c = Container::default();
                } else {
                    return Err("container.id: only `host` (default: a podman container)".into());
                }
            }
            "container.name" => c.name = Some(string(v, k)?),
            "container.image" => c.image = Some(string(v, k)?),
            "container.privileged" => meta.privileged = Some(boolean(v, k)?),
            "container.creator.pid" => creator.pid = Some(uint(v, k)?),
            "container.creator.uid" => creator.uid = Some(uint(v, k)?),
            "container.creator.loginuid" => creator.loginuid = Some(uint(v, k)?),
            "container.creator.user" => creator.user = Some(string(v, k)?),
            "container.creator.cmdline" => creator.cmdline = Some(string(v, k)?),
            "container.mount.sources" => {
                meta.mounts = strings(v, k)?
                    .into_iter()
                    .map(|source| crate::event::container::MountMeta {
                        dest: format!("/host{source}"),
                        source,
                        read_only: false,
                    })
                    .collect()
            }
            "k8s.ns.name" => {
                meta.pod = Some(crate::event::container::PodMeta {
                    name: "app-0".into(),
                    namespace: string(v, k)?,
                    ..Default::default()
                })
            }
            "target.is_vigil" => target_is_vigil = Some(boolean(v, k)?),
            "proc.in_baseline" => {
                baseline
                    .get_or_insert(crate::event::BaselineMark {
                        in_baseline: true,
                        diff: String::new(),
                    })
                    .in_baseline = boolean(v, k)?
            }
            "proc.baseline_diff" => {
                baseline
                    .get_or_insert(crate::event::BaselineMark {
                        in_baseline: true,
                        diff: String::new(),
                    })
                    .diff = string(v, k)?
            }
            "user.nproc_top_container" => stats.nproc_top_container = Some(string(v, k)?),
            "host.io_stalled_container" => stats.io_stalled_container = Some(string(v, k)?),
            "user.inotify_top_container" => stats.inotify_top_container = Some(string(v, k)?),
            "fs.path" => stats.fs.get_or_insert_with(Default::default).path = string(v, k)?,
            "fs.top_writer" => {
                stats.fs.get_or_insert_with(Default::default).top_writer = Some(string(v, k)?)
            }
            "fs.writers" => stats.fs.get_or_insert_with(Default::default).writers = string(v, k)?,
            _ => match k.strip_prefix("evt.arg.") {
                Some(arg) => {
                    let value = match v {
                        Json::Number(n) => ArgValue::Int(n.as_i64().ok_or("bad number")?),
                        Json::Bool(b) => ArgValue::Str(b.to_string()),
                        Json::String(s) if arg == "flags" && s.starts_with("O_") => {
                            ArgValue::Flags {
                                raw: open_flag_bits(s)?,
                                text: s.clone(),
                            }
                        }
                        Json::String(s) => ArgValue::Flags {
                            raw: 0,
                            text: s.clone(),
                        },
                        other => return Err(format!("{k}: unsupported value {other}")),
                    };
                    args.push(Arg {
                        name: crate::event::name::name(arg),
                        value,
                    });
                }
                None => return Err(format!("unknown fixture key {k}")),
            },
        }
    }
    if creator != Default::default() && c.full_id.is_some() {
        c.creator = Some(Arc::new(creator));
    }
    if meta != Default::default() && c.full_id.is_some() {
        meta.name = c.name.clone();
        meta.image = c.image.clone();
        c.meta = Some(Arc::new(meta));
    }
    if x.pname.is_none() {
        x.pname = x.ancestors.first().map(|a| a.name.clone());
    }
    if x.ancestors.is_empty() {
        if let Some(pn) = &x.pname {
            x.ancestors.push(Ancestor {
                pid: p.ppid,
                name: pn.clone(),
                exe: None,
                exepath: None,
                env: None,
            });
        }
    }
    if aenv.len() > x.ancestors.len() {
        return Err("proc.aenv: more environments than ancestors (proc.anames)".into());
    }
    for (a, env) in x.ancestors.iter_mut().zip(aenv) {
        a.env = Some(env.into());
    }
    if let Some(a) = x.ancestors.first() {
        p.ppid = a.pid;
    }
    x.exe = exe.or_else(|| x.exepath.clone());
    p.exec = Arc::new(x);
    let ret = rawres.unwrap_or(if failed { -1 } else { 0 });
    // An exec the LSM hook refused (or would have) is an exec event.
    let enforcement = args
        .iter()
        .find(|a| a.name == "enforcement")
        .and_then(|a| match &a.value {
            ArgValue::Flags { text, .. } => Some(text.clone()),
            _ => None,
        });
    let data = match evt_type.as_str() {
        // A failed execve is a syscall event; a successful one the exec.
        "execve" if (!failed && ret >= 0) || enforcement.is_some() => Data::Exec(ExecData {
            filename: p.exec.exepath.as_deref().unwrap_or_default().to_owned(),
            argc: p.exec.args.len() as u32 + 1,
            cap_effective: p.exec.cap_effective.unwrap_or(0),
            cap_permitted: p.exec.cap_permitted.unwrap_or(0),
            exe_ino: 1,
            exe_on_overlay: c.full_id.is_some(),
            enforcement,
        }),
        "clone" => Data::Clone(CloneData {
            child_pid: p.pid + 1,
            child_tid: p.pid + 1,
            flags: 17,
            flags_text: "SIGCHLD".into(),
        }),
        "container_stats" => {
            stats.values.sort_by(|a, b| a.0.cmp(&b.0));
            Data::ContainerStats(Box::new(stats))
        }
        "procexit" => Data::Exit(ExitData {
            raw: 0,
            status: 0,
            signal: 0,
            core_dumped: false,
        }),
        "throttled" => throttle_data(&args)?,
        name => {
            let is_open = matches!(name, "open" | "openat" | "openat2" | "creat");
            if is_open {
                if let Some(f) = &fd_name {
                    args.insert(
                        0,
                        Arg {
                            name: "name".into(),
                            value: ArgValue::Str(f.clone()),
                        },
                    );
                }
                if !args.iter().any(|a| a.name == "flags") {
                    return Err(format!("{name} fixture needs evt.arg.flags"));
                }
            }
            let conn = net.conn();
            let fd_name = fd_name.or_else(|| conn.as_ref().map(|c| c.display()));
            let sockaddr = match (name, &fd_name) {
                _ if conn.is_some() => None,
                ("connect", Some(f)) if f.starts_with('/') => Some(SockAddr::Unix {
                    path: f.clone(),
                    abstract_ns: false,
                }),
                // dup*: the duplicated socket's peer.
                ("connect" | "dup" | "dup2" | "dup3", Some(f)) => {
                    let (ip, port) = f.rsplit_once(':').ok_or("socket fd.name: ip:port")?;
                    let port = port.parse().map_err(|_| "bad port")?;
                    Some(
                        match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
                            Some(ip) => SockAddr::Inet6 {
                                ip: ip.into(),
                                port,
                                scope_id: 0,
                            },
                            None => SockAddr::Inet {
                                ip: ip.into(),
                                port,
                            },
                        },
                    )
                }
                _ => None,
            };
            Data::Syscall(Box::new(SyscallData {
                name: crate::event::name::name(name),
                ret,
                res: match (rawres, ret < 0) {
                    (Some(r), _) => crate::event::sysargs::res_name(r),
                    (None, true) => "EPERM".into(),
                    (None, false) => "SUCCESS".into(),
                },
                raw_args: [0; 6],
                args,
                fd_name: fd_name.clone(),
                sockaddr,
                conn,
            }))
        }
    };
    Ok(Event {
        num: 1,
        boot_ns: BOOT_NS,
        wall_ns: 1_795_328_303_123_456_789,
        process: Arc::new(p),
        cgroup: Arc::new(Cgroup {
            id: 7,
            path: c
                .full_id
                .as_ref()
                .map(|f| format!("/machine.slice/libpod-{f}.scope/container")),
        }),
        container: Arc::new(c),
        data,
        truncated: Vec::new(),
        target_is_vigil,
        baseline,
    })
}

/// A `throttled` event's data from `evt.arg.by` (kernel, recorder or
/// ring), `evt.arg.kind` (default openat) and `evt.arg.count` (default 1).
fn throttle_data(args: &[Arg]) -> Result<Data, String> {
    use crate::event::{ThrottleData, Throttler};
    let text = |name: &str| {
        args.iter()
            .find(|a| a.name == name)
            .and_then(|a| match &a.value {
                ArgValue::Flags { text, .. } | ArgValue::Str(text) => Some(text.clone()),
                _ => None,
            })
    };
    let by = match text("by").as_deref() {
        Some("kernel") => Throttler::Kernel,
        Some("recorder") => Throttler::Recorder,
        Some("ring") => Throttler::Ring,
        other => return Err(format!("throttled fixture: evt.arg.by {other:?}")),
    };
    let count = args
        .iter()
        .find(|a| a.name == "count")
        .and_then(|a| match a.value {
            ArgValue::Int(n) => u64::try_from(n).ok(),
            _ => None,
        })
        .unwrap_or(1);
    Ok(Data::Throttled(ThrottleData {
        by,
        kind: text("kind").unwrap_or_else(|| "openat".into()),
        count,
        window_ns: 1_000_000_000,
    }))
}

#[cfg(test)]
mod tests;
