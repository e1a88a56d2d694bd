//! The deploy/ manifests as the tests use them: the kustomize base
//! rendered and parsed (`kubectl kustomize`), the DaemonSet's pod template
//! as a Pod for `podman kube play`, or translated into `podman run`
//! arguments field by field, and Drop guards for what those start. Test
//! support: a malformed manifest panics with what is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

fn deploy_dir() -> PathBuf {
    crate::paths::workspace_root().join("deploy")
}

/// `kubectl kustomize deploy/kubernetes`, as text and as documents.
pub fn rendered() -> (String, Vec<Yaml>) {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(deploy_dir().join("kubernetes"))
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("kustomize output is YAML");
    (text, docs)
}

/// The first document of `kind`.
pub fn doc<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} in the rendered base"))
}

/// Documents back to one multi-document YAML text.
pub fn emit(docs: &[Yaml]) -> String {
    let mut out = String::new();
    for d in docs {
        YamlEmitter::new(&mut out).dump(d).unwrap();
        out.push('\n');
    }
    out
}

/// Sets `y[key] = value` on a mapping.
pub fn set(y: &mut Yaml, key: &str, value: Yaml) {
    let Yaml::Hash(h) = y else {
        panic!("not a mapping: {y:?}")
    };
    h.insert(Yaml::String(key.into()), value);
}

/// `y[key]`, mutably; panics if absent.
pub fn get_mut<'a>(y: &'a mut Yaml, key: &str) -> &'a mut Yaml {
    let Yaml::Hash(h) = y else {
        panic!("not a mapping: {y:?}")
    };
    h.get_mut(&Yaml::String(key.into()))
        .unwrap_or_else(|| panic!("no key {key}"))
}

/// `podman kube play` of the DaemonSet's pod, removed on drop.
pub struct PlayedPod {
    pub name: String,
}

impl Drop for PlayedPod {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            Command::new("podman")
                .args(args)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
        };
        let id = quiet(&["pod", "inspect", "--format", "{{.Id}}", &self.name])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let _ = quiet(&["pod", "rm", "--force", "--time", "30", &self.name]);
        // podman 4.3 (cgroupfs manager, hybrid hierarchy) leaves a played
        // pod's cgroup behind in the unified and named hierarchies; an
        // agent started later would take it for a container. rmdir only
        // removes a cgroup with no tasks and no children.
        if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hierarchies = std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten();
            for h in hierarchies.flatten() {
                let _ = std::fs::remove_dir(h.path().join("libpod_parent").join(&id));
            }
            let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup/libpod_parent").join(&id));
        }
    }
}

/// The DaemonSet's pod template as a Pod (what kubelet would create), plus
/// the ConfigMaps it mounts. Changed only: kind and name, the recorder's
/// hostPath points at a scratch directory, and `ports` go (podman would
/// publish them on the host, which kubelet does not do; the test reaches
/// the port inside the pod's network namespace instead).
pub fn pod_yaml(docs: &[Yaml], name: &str, state_dir: &Path) -> String {
    let ds = doc(docs, "DaemonSet");
    let template = &ds["spec"]["template"];
    let mut pod = YamlLoader::load_from_str("apiVersion: v1\nkind: Pod\nmetadata: {}\n")
        .unwrap()
        .remove(0);
    let mut meta = template["metadata"].clone();
    set(&mut meta, "name", Yaml::String(name.into()));
    set(&mut pod, "metadata", meta);
    let mut spec = template["spec"].clone();
    let Yaml::Array(vols) = get_mut(&mut spec, "volumes") else {
        panic!("volumes")
    };
    for v in vols.iter_mut() {
        if v["name"].as_str() == Some("state") {
            set(
                get_mut(v, "hostPath"),
                "path",
                Yaml::String(state_dir.to_str().unwrap().into()),
            );
        }
    }
    let Yaml::Array(ctrs) = get_mut(&mut spec, "containers") else {
        panic!("containers")
    };
    for c in ctrs.iter_mut() {
        if let Yaml::Hash(h) = c {
            h.remove(&Yaml::String("ports".into()));
        }
    }
    set(&mut pod, "spec", spec);
    let mut out: Vec<Yaml> = docs
        .iter()
        .filter(|d| d["kind"].as_str() == Some("ConfigMap"))
        .cloned()
        .collect();
    out.push(pod);
    emit(&out)
}

/// A container started by `podman run`, removed on drop.
pub struct RunContainer(pub String);

impl Drop for RunContainer {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "--force", "--time", "30", &self.0])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `podman run` arguments for the DaemonSet's container, translated field
/// by field from the pod template: namespaces, securityContext, env,
/// memory limit, every volume mount (hostPaths as written except the
/// recorder's, which goes to `state`; ConfigMaps as files under `cm_dir`),
/// the image and its args. Fields podman has no flag for (probes,
/// tolerations, priority) are the kubelet's, not the container's.
pub fn podman_run_args(docs: &[Yaml], name: &str, state: &Path, cm_dir: &Path) -> Vec<String> {
    let spec = &doc(docs, "DaemonSet")["spec"]["template"]["spec"];
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    let mut a: Vec<String> = [
        "run",
        "--detach",
        "--name",
        name,
        "--log-driver",
        "k8s-file",
    ]
    .map(String::from)
    .to_vec();
    if spec["hostPID"].as_bool() == Some(true) {
        a.push("--pid=host".into());
    }
    if spec["hostNetwork"].as_bool() != Some(true) {
        a.push("--network=none".into());
    }
    assert_ne!(sc["privileged"].as_bool(), Some(true));
    if sc["readOnlyRootFilesystem"].as_bool() == Some(true) {
        a.extend(["--read-only".into(), "--read-only-tmpfs=false".into()]);
    }
    if sc["allowPrivilegeEscalation"].as_bool() == Some(false) {
        a.push("--security-opt=no-new-privileges".into());
    }
    if sc["seccompProfile"]["type"].as_str() == Some("Unconfined") {
        a.push("--security-opt=seccomp=unconfined".into());
    }
    if let Some(uid) = sc["runAsUser"].as_i64() {
        a.push(format!(
            "--user={uid}:{}",
            sc["runAsGroup"].as_i64().unwrap_or(uid)
        ));
    }
    for cap in sc["capabilities"]["drop"].as_vec().unwrap() {
        a.push(format!("--cap-drop={}", cap.as_str().unwrap()));
    }
    for cap in sc["capabilities"]["add"].as_vec().unwrap() {
        a.push(format!("--cap-add={}", cap.as_str().unwrap()));
    }
    for e in c["env"].as_vec().into_iter().flatten() {
        a.push(format!(
            "--env={}={}",
            e["name"].as_str().unwrap(),
            e["value"].as_str().unwrap()
        ));
    }
    if let Some(mem) = c["resources"]["limits"]["memory"].as_str() {
        a.push(format!(
            "--memory={}",
            mem.replace("Mi", "m").replace("Gi", "g")
        ));
    }
    let volumes = spec["volumes"].as_vec().unwrap();
    for m in c["volumeMounts"].as_vec().unwrap() {
        let vname = m["name"].as_str().unwrap();
        let v = volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(vname))
            .unwrap();
        let src = if vname == "state" {
            state.to_path_buf()
        } else if let Some(p) = v["hostPath"]["path"].as_str() {
            PathBuf::from(p)
        } else {
            let cm_name = v["configMap"]["name"]
                .as_str()
                .expect("hostPath or configMap");
            let cm = docs
                .iter()
                .find(|d| {
                    d["kind"].as_str() == Some("ConfigMap")
                        && d["metadata"]["name"].as_str() == Some(cm_name)
                })
                .unwrap();
            let dir = cm_dir.join(cm_name);
            std::fs::create_dir_all(&dir).unwrap();
            for (k, val) in cm["data"].as_hash().unwrap() {
                std::fs::write(dir.join(k.as_str().unwrap()), val.as_str().unwrap()).unwrap();
            }
            dir
        };
        std::fs::create_dir_all(&src).ok();
        let mut opts = vec![if m["readOnly"].as_bool() == Some(true) {
            "ro"
        } else {
            "rw"
        }];
        if m["mountPropagation"].as_str() == Some("HostToContainer") {
            opts.push("rslave");
        }
        a.push(format!(
            "--volume={}:{}:{}",
            src.display(),
            m["mountPath"].as_str().unwrap(),
            opts.join(",")
        ));
    }
    a.push(c["image"].as_str().unwrap().into());
    a.extend(
        c["args"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string()),
    );
    a
}
