//! The open filter's configuration and its encoding into map keys.
//!
//! Prefixes go into an LPM trie and match any path that starts with them
//! (`/proc/sys/` matches everything below it; `/etc/shadow` also matches
//! `/etc/shadow-`). Names match the final path component exactly, which
//! also catches relative paths and `/proc/<pid>/...`. Each entry says when
//! it counts: `when::ANY` open, or only `when::WRITE` opens.

use std::collections::BTreeMap;

use monitor_common::filter::{when, NameKey, PathPrefix, MAX_ENTRIES, NAME_LEN, PREFIX_LEN};

use super::SensorError;

/// Which opens reach userspace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenFilter {
    /// Path prefixes and their `filter::when` value.
    pub prefixes: Vec<(String, u32)>,
    /// Final path components and their `filter::when` value.
    pub names: Vec<(String, u32)>,
}

const ANY: u32 = when::ANY;
const WRITE: u32 = when::WRITE;

/// Sensitive files, /proc and /sys control files, devices, runtime sockets,
/// and binary/library directories (for writes).
pub fn default_open_filter() -> OpenFilter {
    let prefixes: &[(&str, u32)] = &[
        // Credentials and secrets.
        ("/etc/shadow", ANY),
        ("/etc/gshadow", ANY),
        ("/etc/sudoers", ANY),
        ("/etc/ssh/ssh_host_", ANY),
        ("/root/.ssh/", ANY),
        // Cloud and cluster credentials in root's home (containers mostly
        // run as root); other homes are caught by file name below.
        ("/root/.kube/", ANY),
        ("/root/.aws/", ANY),
        ("/root/.config/gcloud/", ANY),
        ("/root/.azure/", ANY),
        ("/root/.docker/config.json", ANY),
        ("/etc/kubernetes/", ANY),
        ("/var/lib/kubelet/pki/", ANY),
        ("/run/secrets/", ANY),
        ("/var/run/secrets/", ANY),
        ("/etc/ld.so.preload", ANY),
        // Account, auth and scheduling configuration (writes).
        ("/etc/passwd", WRITE),
        ("/etc/group", WRITE),
        ("/etc/pam.d/", WRITE),
        ("/etc/crontab", WRITE),
        ("/etc/cron.", WRITE),
        ("/var/spool/cron/", WRITE),
        ("/etc/systemd/", WRITE),
        ("/etc/ld.so.conf", WRITE),
        // Kernel control files.
        ("/proc/sys/", WRITE),
        ("/proc/sysrq-trigger", ANY),
        ("/proc/kcore", ANY),
        ("/sys/kernel/", WRITE),
        ("/sys/fs/cgroup/", WRITE),
        ("/sys/module/", WRITE),
        // Pinned BPF objects: unlinking one unpins it (tamper).
        ("/sys/fs/bpf/", WRITE),
        // Raw devices.
        ("/dev/mem", ANY),
        ("/dev/kmem", ANY),
        ("/dev/port", ANY),
        ("/dev/sd", ANY),
        ("/dev/vd", ANY),
        ("/dev/xvd", ANY),
        ("/dev/nvme", ANY),
        ("/dev/dm-", ANY),
        ("/dev/mapper/", ANY),
        // Container runtime sockets.
        ("/var/run/docker.sock", ANY),
        ("/run/docker.sock", ANY),
        ("/run/containerd/", ANY),
        ("/var/run/containerd/", ANY),
        ("/run/crio/", ANY),
        ("/var/run/crio/", ANY),
        ("/run/podman/", ANY),
        ("/var/run/podman/", ANY),
        // Binaries, libraries and boot files (writes).
        ("/bin/", WRITE),
        ("/sbin/", WRITE),
        ("/usr/bin/", WRITE),
        ("/usr/sbin/", WRITE),
        ("/usr/local/bin/", WRITE),
        ("/usr/local/sbin/", WRITE),
        ("/lib/", WRITE),
        ("/lib64/", WRITE),
        ("/usr/lib/", WRITE),
        ("/usr/lib64/", WRITE),
        ("/boot/", WRITE),
        // Persistence (rules/persistence.yaml): shell start-up files,
        // init scripts and Alpine's periodic cron directories.
        ("/etc/profile", WRITE),
        ("/etc/bash.bashrc", WRITE),
        ("/etc/zsh/", WRITE),
        ("/etc/init.d/", WRITE),
        ("/etc/rc.local", WRITE),
        ("/etc/periodic/", WRITE),
    ];
    let names: &[(&str, u32)] = &[
        ("release_agent", ANY),
        ("notify_on_release", WRITE),
        ("core_pattern", WRITE),
        ("uevent_helper", WRITE),
        ("modprobe", WRITE),
        ("environ", ANY),
        ("shadow", ANY),
        ("id_rsa", ANY),
        ("id_ecdsa", ANY),
        ("id_ed25519", ANY),
        ("authorized_keys", WRITE),
        // What the default credential-access rules look for.
        ("mem", ANY),
        ("id_dsa", ANY),
        ("credentials", ANY),
        (".git-credentials", ANY),
        (".netrc", ANY),
        (".pgpass", ANY),
        // gcloud and Azure CLI token stores (names the kernel can compare:
        // under 32 bytes).
        ("access_tokens.db", ANY),
        ("credentials.db", ANY),
        ("accessTokens.json", ANY),
        ("msal_token_cache.json", ANY),
        ("msal_token_cache.bin", ANY),
        // Persistence: per-user shell start-up files, wherever the home is.
        (".bashrc", WRITE),
        (".bash_profile", WRITE),
        (".bash_login", WRITE),
        (".bash_logout", WRITE),
        (".profile", WRITE),
        (".zshrc", WRITE),
        (".zprofile", WRITE),
        (".zshenv", WRITE),
        ("authorized_keys2", WRITE),
        // The runc overwrite (CVE-2019-5736): `/proc/self/exe` or
        // `/proc/<pid>/exe` opened for writing.
        ("exe", WRITE),
    ];
    OpenFilter {
        prefixes: prefixes.iter().map(|&(p, w)| (p.to_owned(), w)).collect(),
        names: names.iter().map(|&(n, w)| (n.to_owned(), w)).collect(),
    }
}

/// An LPM-trie entry: prefix length in bits, key data, value.
pub(crate) type PrefixEntry = (u32, PathPrefix, u32);

/// The filter as map entries.
#[derive(Default)]
pub(crate) struct Encoded {
    pub prefixes: Vec<PrefixEntry>,
    pub names: Vec<(NameKey, u32)>,
}

fn bad(entry: &str, reason: &'static str) -> SensorError {
    SensorError::Filter {
        entry: entry.to_owned(),
        reason,
    }
}

fn check_when(entry: &str, w: u32) -> Result<(), SensorError> {
    if w == 0 || w & !(ANY | WRITE | when::DENY_WRITE | when::KILL_WRITE) != 0 {
        return Err(bad(
            entry,
            "`when` must be filter::when::ANY, WRITE, DENY_WRITE and/or KILL_WRITE",
        ));
    }
    Ok(())
}

impl OpenFilter {
    /// Add `other`'s entries (duplicates are merged when encoding).
    pub fn extend(&mut self, other: OpenFilter) {
        self.prefixes.extend(other.prefixes);
        self.names.extend(other.names);
    }

    /// Validate and encode into map entries; duplicate keys OR their values.
    pub(crate) fn encode(&self) -> Result<Encoded, SensorError> {
        let mut prefixes: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        for (p, w) in &self.prefixes {
            check_when(p, *w)?;
            let b = p.as_bytes();
            if b.is_empty() || b.len() > PREFIX_LEN {
                return Err(bad(p, "prefix must be 1..=128 bytes"));
            }
            if b.contains(&0) {
                return Err(bad(p, "prefix contains a NUL byte"));
            }
            *prefixes.entry(b.to_vec()).or_default() |= w;
        }
        let mut names: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        for (n, w) in &self.names {
            check_when(n, *w)?;
            let b = n.as_bytes();
            // The kernel compares names shorter than NAME_LEN.
            if b.is_empty() || b.len() >= NAME_LEN {
                return Err(bad(n, "name must be 1..=31 bytes"));
            }
            if b.contains(&0) || b.contains(&b'/') {
                return Err(bad(n, "name contains '/' or a NUL byte"));
            }
            *names.entry(b.to_vec()).or_default() |= w;
        }
        if prefixes.len() > MAX_ENTRIES as usize || names.len() > MAX_ENTRIES as usize {
            return Err(SensorError::FilterSize {
                prefixes: prefixes.len(),
                names: names.len(),
                max: MAX_ENTRIES,
            });
        }
        let prefixes = prefixes
            .into_iter()
            .map(|(b, w)| {
                let mut key = PathPrefix {
                    bytes: [0; PREFIX_LEN],
                };
                key.bytes[..b.len()].copy_from_slice(&b);
                (b.len() as u32 * 8, key, w)
            })
            .collect();
        let names = names
            .into_iter()
            .map(|(b, w)| {
                let mut key = NameKey {
                    bytes: [0; NAME_LEN],
                };
                key.bytes[..b.len()].copy_from_slice(&b);
                (key, w)
            })
            .collect();
        Ok(Encoded { prefixes, names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_encodes() {
        let Encoded {
            prefixes: p,
            names: n,
        } = default_open_filter().encode().unwrap();
        assert!(p
            .iter()
            .any(|(bits, k, w)| *bits == 11 * 8 && &k.bytes[..11] == b"/etc/shadow" && *w == ANY));
        assert!(n
            .iter()
            .any(|(k, w)| &k.bytes[..13] == b"release_agent" && k.bytes[13] == 0 && *w == ANY));
    }

    #[test]
    fn duplicates_merge() {
        let f = OpenFilter {
            prefixes: vec![("/x/".into(), ANY), ("/x/".into(), WRITE)],
            names: vec![("a".into(), WRITE), ("a".into(), WRITE)],
        };
        let Encoded {
            prefixes: p,
            names: n,
        } = f.encode().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].2, ANY | WRITE);
        assert_eq!(n.len(), 1);
    }

    #[test]
    fn rejects_bad_entries() {
        let long = "/".repeat(129);
        for f in [
            OpenFilter {
                prefixes: vec![(String::new(), ANY)],
                names: vec![],
            },
            OpenFilter {
                prefixes: vec![(long, ANY)],
                names: vec![],
            },
            OpenFilter {
                prefixes: vec![("/a".into(), 0)],
                names: vec![],
            },
            OpenFilter {
                prefixes: vec![("/a".into(), 1 << 4)],
                names: vec![],
            },
            OpenFilter {
                prefixes: vec![],
                names: vec![("a/b".into(), ANY)],
            },
            OpenFilter {
                prefixes: vec![],
                names: vec![("x".repeat(32), ANY)],
            },
        ] {
            assert!(
                matches!(f.encode(), Err(SensorError::Filter { .. })),
                "{f:?}"
            );
        }
    }
}
