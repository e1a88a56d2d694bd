//! `/proc/<pid>/mountinfo`, read once for everyone: the cgroup layout,
//! the agent's cgroup v2 root and the setup's mount checks all walk these
//! entries.
//!
//! A line is `id parent maj:min root mountpoint opts [optional...] - fstype
//! source superopts`; paths escape space, tab, newline and backslash as
//! `\ooo`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry<'a> {
    /// The directory of the filesystem the mount shows as its root (`/`
    /// unless it is a bind mount of a subtree or a namespaced cgroup).
    pub root: String,
    pub mount_point: PathBuf,
    pub fstype: &'a str,
    pub source: &'a str,
    pub super_opts: &'a str,
}

/// The well-formed entries of a mountinfo text; malformed lines are skipped.
pub fn entries(text: &str) -> impl Iterator<Item = MountEntry<'_>> {
    text.lines().filter_map(parse_line)
}

fn parse_line(line: &str) -> Option<MountEntry<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let root = l.nth(3)?;
    let mount_point = l.next()?;
    let mut r = right.split(' ');
    let fstype = r.next().filter(|t| !t.is_empty())?;
    let source = r.next()?;
    let super_opts = r.next().unwrap_or("");
    Some(MountEntry {
        root: unescape(root).to_string_lossy().into_owned(),
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype,
        source,
        super_opts,
    })
}

/// Undoes mountinfo's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> OsString {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4).filter(|o| {
            b[i] == b'\\' && o[0] <= b'3' && o.iter().all(|c| (b'0'..=b'7').contains(c))
        });
        match oct {
            Some(o) => {
                out.push(((o[0] - b'0') << 6) | ((o[1] - b'0') << 3) | (o[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_escapes_and_junk() {
        let text = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    garbage\n\n1 2 3\n\
                    40 31 0:37 /sub /mnt/with\\040space rw shared:5 - cgroup2 cgroup2 rw,nsdelegate\n";
        let e: Vec<MountEntry> = entries(text).collect();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].fstype, e[0].source, e[0].super_opts),
            ("ext4", "/dev/vda", "rw")
        );
        assert_eq!(e[1].mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!(e[1].root, "/sub");
        assert_eq!(e[1].fstype, "cgroup2");
        assert_eq!(unescape("a\\134b\\0"), OsString::from("a\\b\\0"));
    }
}
