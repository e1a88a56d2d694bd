//! A read-only reader of BoltDB files (bbolt's format), for podman's state
//! (`libpod/bolt_state.db`): podman keeps a pod's name there and nowhere
//! else. No Rust crate reads this format, and the part needed is small:
//! the newer valid meta page, then keys down the B+tree of nested buckets.
//!
//! The file is read whole (bounded) and every offset checked: a corrupt or
//! half-written file (podman writes while we read) is an error naming the
//! page, never a panic or a loop.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BoltError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {max} bytes")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("not a BoltDB file: no valid meta page")]
    NoMeta,
    #[error("corrupt BoltDB file at page {page}: {what}")]
    Corrupt { page: u64, what: &'static str },
}

/// podman's state file is a few MB even on busy hosts.
const MAX_FILE: u64 = 256 << 20;
const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const BUCKET_LEAF: u32 = 0x01;
/// Deeper trees than this are loops in a corrupt file.
const MAX_DEPTH: usize = 32;

/// An opened BoltDB file.
pub struct Bolt {
    data: Vec<u8>,
    page_size: usize,
    /// The root bucket's root page.
    root: u64,
}

/// One element of a page: (leaf flags, key, value, child page id).
type Element<'a> = (u32, &'a [u8], &'a [u8], u64);

/// Where a bucket's B+tree lives: a page of the file, or inline in its
/// parent's leaf value.
#[derive(Clone, Copy)]
enum Tree<'a> {
    Page(u64),
    Inline(&'a [u8]),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// FNV-1a, 64 bits: bbolt's meta page checksum.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A meta page at `at`: (page size, root page, txid) if valid.
fn meta(data: &[u8], at: usize) -> Option<(usize, u64, u64)> {
    let m = data.get(at + PAGE_HEADER..at + PAGE_HEADER + 64)?;
    let (magic, version, page_size) = (u32_at(m, 0)?, u32_at(m, 4)?, u32_at(m, 8)?);
    if magic != MAGIC || version != VERSION || fnv1a(&m[..56]) != u64_at(m, 56)? {
        return None;
    }
    let page_size = page_size as usize;
    (512..=1 << 20)
        .contains(&page_size)
        .then_some((page_size, u64_at(m, 16)?, u64_at(m, 48)?))
}

impl Bolt {
    pub fn open(path: &Path) -> Result<Bolt, BoltError> {
        let read = |source| BoltError::Read {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_FILE {
            return Err(BoltError::TooLarge {
                path: path.to_owned(),
                max: MAX_FILE,
            });
        }
        Bolt::from_bytes(std::fs::read(path).map_err(read)?)
    }

    /// The newer of the two meta pages that is valid.
    pub fn from_bytes(data: Vec<u8>) -> Result<Bolt, BoltError> {
        let first = meta(&data, 0);
        // The second meta page is one page in; the first says how long a
        // page is (if it is the one that is broken, try the usual sizes).
        let sizes = first.map_or(vec![4096, 8192, 16384, 65536], |m| vec![m.0]);
        let second = sizes.into_iter().find_map(|s| meta(&data, s));
        let (page_size, root, _) = [first, second]
            .into_iter()
            .flatten()
            .max_by_key(|m| m.2)
            .ok_or(BoltError::NoMeta)?;
        Ok(Bolt {
            data,
            page_size,
            root,
        })
    }

    /// The value of `key` in the bucket reached through `buckets` (nested,
    /// from the root), or `None` when a bucket or the key is missing.
    pub fn get(&self, buckets: &[&[u8]], key: &[u8]) -> Result<Option<&[u8]>, BoltError> {
        let mut tree = Tree::Page(self.root);
        for name in buckets {
            let Some((flags, value)) = self.find(tree, name)? else {
                return Ok(None);
            };
            if flags & BUCKET_LEAF == 0 {
                return Ok(None);
            }
            let root = u64_at(value, 0).ok_or(BoltError::Corrupt {
                page: 0,
                what: "short bucket header",
            })?;
            tree = match root {
                0 => Tree::Inline(value.get(16..).unwrap_or_default()),
                p => Tree::Page(p),
            };
        }
        Ok(self
            .find(tree, key)?
            .filter(|(flags, _)| flags & BUCKET_LEAF == 0)
            .map(|(_, v)| v))
    }

    /// A page's bytes (with its overflow pages).
    fn page(&self, id: u64) -> Result<&[u8], BoltError> {
        let corrupt = |what| BoltError::Corrupt { page: id, what };
        let at = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_mul(self.page_size))
            .ok_or(corrupt("page id out of range"))?;
        let head = self
            .data
            .get(at..at + PAGE_HEADER)
            .ok_or(corrupt("past the end of the file"))?;
        let overflow = u32_at(head, 12).unwrap_or(0) as usize;
        let len = overflow
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.page_size))
            .ok_or(corrupt("overflow out of range"))?;
        // The last page of a file being written may be short.
        let end = at.saturating_add(len).min(self.data.len());
        Ok(&self.data[at..end])
    }

    /// (leaf flags, value) of `key` in a bucket's tree.
    fn find<'a>(
        &'a self,
        tree: Tree<'a>,
        key: &[u8],
    ) -> Result<Option<(u32, &'a [u8])>, BoltError> {
        let (mut id, mut page) = match tree {
            Tree::Page(id) => (id, self.page(id)?),
            Tree::Inline(bytes) => (0, bytes),
        };
        for _ in 0..MAX_DEPTH {
            let corrupt = |what| BoltError::Corrupt { page: id, what };
            let flags = u16_at(page, 8).ok_or(corrupt("short page"))?;
            let count = usize::from(u16_at(page, 10).ok_or(corrupt("short page"))?);
            // Element `i`: (leaf flags, key, value, child page). A branch
            // element is pos, ksize, child page id; a leaf element flags,
            // pos, ksize, vsize; `pos` counts from the element itself.
            let branch = flags & BRANCH != 0;
            let element = |i: usize| -> Result<Element<'a>, BoltError> {
                let e = PAGE_HEADER + i * ELEMENT;
                let word = |o| u32_at(page, e + o).ok_or(corrupt("element past the page"));
                let bytes = |from: usize, len: usize| page.get(from..from.checked_add(len)?);
                if branch {
                    let (pos, ksize) = (word(0)? as usize, word(4)? as usize);
                    let child = u64_at(page, e + 8).ok_or(corrupt("element past the page"))?;
                    let key = bytes(e + pos, ksize).ok_or(corrupt("key past the page"))?;
                    return Ok((0, key, &[], child));
                }
                let (leaf_flags, pos) = (word(0)?, word(4)? as usize);
                let (ksize, vsize) = (word(8)? as usize, word(12)? as usize);
                let key = bytes(e + pos, ksize).ok_or(corrupt("key past the page"))?;
                let value = bytes(e + pos + ksize, vsize).ok_or(corrupt("value past the page"))?;
                Ok((leaf_flags, key, value, 0))
            };
            if branch {
                // The last child whose first key is not after `key`.
                let mut child = None;
                for i in 0..count {
                    let (_, k, _, c) = element(i)?;
                    if k > key && child.is_some() {
                        break;
                    }
                    child = Some(c);
                }
                let Some(c) = child else {
                    return Ok(None);
                };
                id = c;
                page = self.page(c)?;
                continue;
            }
            if flags & LEAF == 0 {
                return Err(corrupt("neither a branch nor a leaf page"));
            }
            for i in 0..count {
                let (f, k, v, _) = element(i)?;
                if k == key {
                    return Ok(Some((f, v)));
                }
            }
            return Ok(None);
        }
        Err(BoltError::Corrupt {
            page: id,
            what: "tree deeper than any real one (a loop)",
        })
    }
}

#[cfg(test)]
mod tests;
