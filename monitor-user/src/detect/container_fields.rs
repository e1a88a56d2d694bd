//! The fields that come from a container's runtime metadata: the pod
//! (`k8s.pod.name`, `k8s.ns.name`, `k8s.pod.label[KEY]`, `k8s.pod.labels`),
//! the image's id and digest, privilege, mounts
//! (`container.mounts`, `container.mount.source[DEST]`,
//! `container.mount.dest[SOURCE]`, `container.mount.sources`), labels, the
//! start time, why the metadata is missing (`container.unresolved`), and
//! who started the container (`container.creator.*`).
//!
//! Falco's semantics: `container.mount.source[X]` is the source of the mount
//! whose destination is X (or the X-th mount), `container.mount.dest[X]` the
//! destination of the mount whose source is X. Derived texts and lists are
//! built once per event, on first use.

use std::cell::OnceCell;

use monitor_rules::{Field, FieldArg, FieldId, StrList, Value};

use crate::event::container::{ContainerMeta, MountMeta};
use crate::event::Container;

/// Per-event cache of the derived values.
#[derive(Default)]
pub struct Cache<'a> {
    mounts: OnceCell<String>,
    sources: OnceCell<Vec<&'a str>>,
    labels: OnceCell<Vec<String>>,
    pod_labels: OnceCell<Vec<String>>,
    unresolved: OnceCell<String>,
    host_path: OnceCell<Option<String>>,
    creator: OnceCell<String>,
}

fn pairs<'m>(m: impl Iterator<Item = (&'m String, &'m String)>) -> Vec<String> {
    m.map(|(k, v)| format!("{k}:{v}")).collect()
}

/// The mount `arg` names: by index, or by the other end's path.
fn mount<'m>(
    mounts: &'m [MountMeta],
    arg: &FieldArg,
    by: impl Fn(&MountMeta) -> &str,
) -> Option<&'m MountMeta> {
    match arg {
        FieldArg::Index(i) => mounts.get(*i as usize),
        FieldArg::Name(path) => mounts.iter().find(|m| by(m) == &**path),
        FieldArg::None => None,
    }
}

/// `fd.host_path`: the host path behind `path` (as the container sees it)
/// when it lies in one of the container's mounts; the deepest mount wins,
/// as in the container's own view.
pub fn host_path<'s, 'a: 's>(
    c: &'a Container,
    path: &str,
    cache: &'s Cache<'a>,
) -> Option<Value<'s>> {
    let m = c.meta.as_deref()?;
    cache
        .host_path
        .get_or_init(|| {
            let (mount, rest) = m
                .mounts
                .iter()
                .filter(|x| x.source.starts_with('/'))
                .filter_map(|x| {
                    let dest = x.dest.trim_end_matches('/');
                    let rest = path.strip_prefix(dest)?;
                    (rest.is_empty() || rest.starts_with('/')).then_some((x, rest))
                })
                .max_by_key(|(x, _)| x.dest.len())?;
            let source = mount.source.trim_end_matches('/');
            Some(if rest.is_empty() && source.is_empty() {
                "/".to_owned()
            } else {
                format!("{source}{rest}")
            })
        })
        .as_deref()
        .map(Value::Str)
}

/// The fields [`creator`] answers: who started the container.
pub fn is_creator_field(id: FieldId) -> bool {
    use FieldId as F;
    matches!(
        id,
        F::ContainerCreator
            | F::ContainerCreatorPid
            | F::ContainerCreatorUid
            | F::ContainerCreatorLoginuid
            | F::ContainerCreatorUser
            | F::ContainerCreatorCmdline
            | F::ContainerCreatorVia
            | F::ContainerCreatorContainerId
            | F::ContainerCreatorCandidates
            | F::ContainerCreatorUnresolved
    )
}

/// The value of a `container.creator.*` field (`enrich::creator`), or
/// `None` when it is not known (the host, or a field the creator lacks).
pub fn creator<'s, 'a: 's>(
    c: &'a Container,
    field: &Field,
    cache: &'s Cache<'a>,
) -> Option<Value<'s>> {
    use FieldId as F;
    let k = c.creator.as_deref()?;
    let num = |n: Option<u32>| n.map(|n| Value::Num(n.into()));
    match field.id {
        F::ContainerCreator => Some(Value::Str(cache.creator.get_or_init(|| k.to_string()))),
        F::ContainerCreatorPid => num(k.pid),
        F::ContainerCreatorUid => num(k.uid),
        // Falco's -1 for a login uid never set, as `user.loginuid`.
        F::ContainerCreatorLoginuid => k.loginuid.map(|u| Value::Num(u as i32 as i64)),
        F::ContainerCreatorUser => k.user.as_deref().map(Value::Str),
        F::ContainerCreatorCmdline => k.cmdline.as_deref().map(Value::Str),
        F::ContainerCreatorVia => k.via.as_deref().map(Value::Str),
        F::ContainerCreatorContainerId => k.container_id.as_deref().map(Value::Str),
        F::ContainerCreatorCandidates => Some(Value::List(StrList::Strings(&k.candidates))),
        F::ContainerCreatorUnresolved => k.unresolved.as_deref().map(Value::Str),
        _ => None,
    }
}

/// The fields [`get`] answers: the container's runtime metadata and why
/// it is missing.
pub fn is_metadata_field(id: FieldId) -> bool {
    use FieldId as F;
    matches!(
        id,
        F::K8sPodName
            | F::K8sNsName
            | F::K8sPodLabel
            | F::K8sPodLabels
            | F::ContainerImageId
            | F::ContainerImageDigest
            | F::ContainerPrivileged
            | F::ContainerMounts
            | F::ContainerMountSource
            | F::ContainerMountDest
            | F::ContainerMountSources
            | F::ContainerStartTs
            | F::ContainerLabel
            | F::ContainerLabels
            | F::ContainerUnresolved
    )
}

/// The value of a runtime-metadata field, or `None` when it is not known.
pub fn get<'s, 'a: 's>(c: &'a Container, field: &Field, cache: &'s Cache<'a>) -> Option<Value<'s>> {
    use FieldId as F;
    if field.id == F::ContainerUnresolved {
        let why = c.unresolved.as_ref()?;
        return Some(Value::Str(cache.unresolved.get_or_init(|| why.to_string())));
    }
    let m: &'a ContainerMeta = c.meta.as_deref()?;
    let pod = m.pod.as_ref();
    match field.id {
        F::K8sPodName => pod.map(|p| Value::Str(&p.name)),
        // A podman pod has a name but no namespace.
        F::K8sNsName => pod
            .filter(|p| !p.namespace.is_empty())
            .map(|p| Value::Str(&p.namespace)),
        F::K8sPodLabel => match &field.arg {
            FieldArg::Name(k) => pod?.labels.get(&**k).map(|v| Value::Str(v)),
            _ => None,
        },
        F::K8sPodLabels => {
            let p = pod?;
            let l = cache.pod_labels.get_or_init(|| pairs(p.labels.iter()));
            Some(Value::List(StrList::Strings(l)))
        }
        F::ContainerImageId => m.image_id.as_deref().map(Value::Str),
        F::ContainerImageDigest => m.image_digest.as_deref().map(Value::Str),
        F::ContainerPrivileged => m.privileged.map(Value::Bool),
        F::ContainerMounts => Some(Value::Str(cache.mounts.get_or_init(|| {
            // Falco's layout: source:dest:mode:rdwr:propagation, comma-separated.
            m.mounts
                .iter()
                .map(|x| format!("{}:{}::{}:", x.source, x.dest, !x.read_only))
                .collect::<Vec<_>>()
                .join(",")
        }))),
        F::ContainerMountSource => {
            mount(&m.mounts, &field.arg, |x| &x.dest).map(|x| Value::Str(&x.source))
        }
        F::ContainerMountDest => {
            mount(&m.mounts, &field.arg, |x| &x.source).map(|x| Value::Str(&x.dest))
        }
        F::ContainerMountSources => {
            Some(Value::List(StrList::Strs(cache.sources.get_or_init(
                || m.mounts.iter().map(|x| x.source.as_str()).collect(),
            ))))
        }
        F::ContainerStartTs => m.created_ns.map(Value::Num),
        F::ContainerLabel => match &field.arg {
            FieldArg::Name(k) => m.labels.get(&**k).map(|v| Value::Str(v)),
            _ => None,
        },
        F::ContainerLabels => Some(Value::List(StrList::Strings(
            cache.labels.get_or_init(|| pairs(m.labels.iter())),
        ))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use monitor_rules::Lookup;

    use super::*;
    use crate::event::container::{PodMeta, Unresolved};

    fn field(name: &str, arg: Option<&str>) -> Field {
        match Field::lookup(name, arg) {
            Lookup::Supported(f, _) => f,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn s<'a>(v: Option<Value<'a>>) -> Option<&'a str> {
        match v {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn pod_image_privilege_and_mounts() {
        let meta = ContainerMeta {
            image_digest: Some("sha256:ab".into()),
            privileged: Some(true),
            pod: Some(PodMeta {
                name: "web-0".into(),
                namespace: "shop".into(),
                uid: "u".into(),
                labels: [("app.kubernetes.io/name".to_owned(), "web".to_owned())].into(),
            }),
            mounts: vec![
                MountMeta {
                    source: "/".into(),
                    dest: "/host".into(),
                    read_only: true,
                },
                MountMeta {
                    source: "/var/run/docker.sock".into(),
                    dest: "/var/run/docker.sock".into(),
                    read_only: false,
                },
            ],
            created_ns: Some(7),
            ..ContainerMeta::default()
        };
        let c = Container {
            meta: Some(Arc::new(meta)),
            ..Container::default()
        };
        let cache = Cache::default();
        let g = |n: &str, a: Option<&str>| get(&c, &field(n, a), &cache);
        assert_eq!(s(g("k8s.pod.name", None)), Some("web-0"));
        assert_eq!(s(g("k8s.ns.name", None)), Some("shop"));
        assert_eq!(
            s(g("k8s.pod.label", Some("app.kubernetes.io/name"))),
            Some("web")
        );
        assert_eq!(s(g("k8s.pod.label", Some("nope"))), None);
        assert_eq!(s(g("container.image.digest", None)), Some("sha256:ab"));
        assert!(matches!(
            g("container.privileged", None),
            Some(Value::Bool(true))
        ));
        assert_eq!(s(g("container.mount.source", Some("/host"))), Some("/"));
        assert_eq!(
            s(g("container.mount.source", Some("1"))),
            Some("/var/run/docker.sock")
        );
        assert_eq!(s(g("container.mount.dest", Some("/"))), Some("/host"));
        assert_eq!(
            s(g("container.mounts", None)),
            Some("/:/host::false:,/var/run/docker.sock:/var/run/docker.sock::true:")
        );
        assert!(matches!(g("container.start_ts", None), Some(Value::Num(7))));
        match g("k8s.pod.labels", None) {
            Some(Value::List(l)) => assert_eq!(l.len(), 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(s(g("container.unresolved", None)), None);
    }

    #[test]
    fn host_path_behind_a_mount() {
        let mounts = vec![
            MountMeta {
                source: "/".into(),
                dest: "/host".into(),
                read_only: true,
            },
            MountMeta {
                source: "/var/lib/app".into(),
                dest: "/host/data".into(),
                read_only: false,
            },
            MountMeta {
                source: "volume-name".into(),
                dest: "/cache".into(),
                read_only: false,
            },
        ];
        let c = Container {
            meta: Some(Arc::new(ContainerMeta {
                mounts,
                ..ContainerMeta::default()
            })),
            ..Container::default()
        };
        let hp = |p: &str| s(host_path(&c, p, &Cache::default())).map(str::to_owned);
        assert_eq!(hp("/host/etc/shadow").as_deref(), Some("/etc/shadow"));
        assert_eq!(hp("/host").as_deref(), Some("/"));
        assert_eq!(hp("/host/data/x.db").as_deref(), Some("/var/lib/app/x.db"));
        assert_eq!(hp("/hostile/x"), None, "not a path prefix");
        assert_eq!(hp("/etc/shadow"), None, "the container's own file");
        assert_eq!(hp("/cache/x"), None, "a named volume has no host path");
    }

    #[test]
    fn unresolved_says_why_and_fields_are_absent() {
        let c = Container {
            unresolved: Some(Unresolved::NotFound),
            ..Container::default()
        };
        let cache = Cache::default();
        assert!(get(&c, &field("k8s.pod.name", None), &cache).is_none());
        assert!(s(get(&c, &field("container.unresolved", None), &cache))
            .is_some_and(|w| w.starts_with("not found")));
    }
}
