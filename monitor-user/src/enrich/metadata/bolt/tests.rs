//! Files built here byte by byte as bbolt lays them out: two meta pages, a
//! branch page, leaves, a nested bucket stored inline and one on its own
//! page. Then every truncation and many byte flips: errors, no panics.

use super::*;

const PS: usize = 4096;

fn header(id: u64, flags: u16, count: usize) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(id.to_le_bytes());
    h.extend(flags.to_le_bytes());
    h.extend((count as u16).to_le_bytes());
    h.extend(0u32.to_le_bytes());
    h
}

/// A leaf page: (flags, key, value) elements, then their bytes.
fn leaf(id: u64, items: &[(u32, &[u8], Vec<u8>)]) -> Vec<u8> {
    let mut p = header(id, LEAF, items.len());
    let mut data = Vec::new();
    let base = PAGE_HEADER + items.len() * ELEMENT;
    for (i, (flags, k, v)) in items.iter().enumerate() {
        let pos = base + data.len() - (PAGE_HEADER + i * ELEMENT);
        p.extend(flags.to_le_bytes());
        p.extend((pos as u32).to_le_bytes());
        p.extend((k.len() as u32).to_le_bytes());
        p.extend((v.len() as u32).to_le_bytes());
        data.extend_from_slice(k);
        data.extend_from_slice(v);
    }
    p.extend(data);
    p
}

fn branch(id: u64, items: &[(&[u8], u64)]) -> Vec<u8> {
    let mut p = header(id, BRANCH, items.len());
    let mut data = Vec::new();
    let base = PAGE_HEADER + items.len() * ELEMENT;
    for (i, (k, child)) in items.iter().enumerate() {
        let pos = base + data.len() - (PAGE_HEADER + i * ELEMENT);
        p.extend((pos as u32).to_le_bytes());
        p.extend((k.len() as u32).to_le_bytes());
        p.extend(child.to_le_bytes());
        data.extend_from_slice(k);
    }
    p.extend(data);
    p
}

fn meta_page(id: u64, root: u64, txid: u64) -> Vec<u8> {
    let mut p = header(id, 0x04, 0);
    let mut m = Vec::new();
    m.extend(MAGIC.to_le_bytes());
    m.extend(VERSION.to_le_bytes());
    m.extend((PS as u32).to_le_bytes());
    m.extend(0u32.to_le_bytes());
    m.extend(root.to_le_bytes());
    m.extend(0u64.to_le_bytes()); // sequence
    m.extend(2u64.to_le_bytes()); // freelist
    m.extend(8u64.to_le_bytes()); // high water
    m.extend(txid.to_le_bytes());
    let sum = fnv1a(&m);
    m.extend(sum.to_le_bytes());
    p.extend(m);
    p
}

/// A bucket value: its header, and its tree inline when `inline` is given.
fn bucket(root: u64, inline: Option<Vec<u8>>) -> Vec<u8> {
    let mut v = root.to_le_bytes().to_vec();
    v.extend(0u64.to_le_bytes());
    v.extend(inline.unwrap_or_default());
    v
}

const POD: &[u8] = b"3b9293470b5e8a87104064590e0ad8c7bd583ab37d9191af1d7dbaff5dd81147";

/// Page 0/1 metas (txid 1 → root 3, txid 2 → root 4), 4 a branch over
/// leaves 5 and 6; `id-registry` is inline in 6, `pods` has its own page 7.
fn file() -> Vec<u8> {
    let registry = leaf(
        0,
        &[(0, b"0aaa", b"web".to_vec()), (0, POD, b"shop".to_vec())],
    );
    let pages = [
        meta_page(0, 3, 1),
        meta_page(1, 4, 2),
        header(2, 0x10, 0),
        leaf(3, &[(0, b"old", b"root".to_vec())]),
        branch(4, &[(b"all", 5), (b"id-registry", 6)]),
        leaf(5, &[(0, b"all", b"x".to_vec())]),
        leaf(
            6,
            &[
                (BUCKET_LEAF, b"id-registry", bucket(0, Some(registry))),
                (BUCKET_LEAF, b"pods", bucket(7, None)),
                (0, b"zz", b"plain".to_vec()),
            ],
        ),
        leaf(
            7,
            &[(
                BUCKET_LEAF,
                POD,
                bucket(0, Some(leaf(0, &[(0, b"config", b"{}".to_vec())]))),
            )],
        ),
    ];
    let mut f = Vec::new();
    for p in pages {
        let mut p = p;
        p.resize(PS, 0);
        f.extend(p);
    }
    f
}

#[test]
fn reads_keys_through_nested_buckets() {
    let db = Bolt::from_bytes(file()).unwrap();
    assert_eq!(db.get(&[b"id-registry"], POD).unwrap(), Some(&b"shop"[..]));
    assert_eq!(
        db.get(&[b"id-registry"], b"0aaa").unwrap(),
        Some(&b"web"[..])
    );
    assert_eq!(db.get(&[b"id-registry"], b"0aab").unwrap(), None);
    assert_eq!(
        db.get(&[b"pods", POD], b"config").unwrap(),
        Some(&b"{}"[..])
    );
    assert_eq!(db.get(&[], b"zz").unwrap(), Some(&b"plain"[..]));
    assert_eq!(db.get(&[], b"all").unwrap(), Some(&b"x"[..]));
    // A bucket is not a value, a value is not a bucket, missing is missing.
    assert_eq!(db.get(&[], b"pods").unwrap(), None);
    assert_eq!(db.get(&[b"zz"], b"a").unwrap(), None);
    assert_eq!(db.get(&[b"nope"], b"a").unwrap(), None);
}

#[test]
fn a_broken_newer_meta_page_falls_back_to_the_older() {
    let mut f = file();
    f[PS + PAGE_HEADER + 20] ^= 0xff; // meta 1's root, under its checksum
    let db = Bolt::from_bytes(f).unwrap();
    assert_eq!(db.get(&[], b"old").unwrap(), Some(&b"root"[..]));
    let mut f = file();
    f[PAGE_HEADER] ^= 1;
    f[PS + PAGE_HEADER] ^= 1;
    assert!(matches!(Bolt::from_bytes(f), Err(BoltError::NoMeta)));
}

#[test]
fn corrupt_files_are_errors_not_panics() {
    let good = file();
    let lookups = |db: &Bolt| {
        let _ = db.get(&[b"id-registry"], POD);
        let _ = db.get(&[b"pods", POD], b"config");
        let _ = db.get(&[], b"zz");
    };
    for len in (0..good.len()).step_by(7) {
        if let Ok(db) = Bolt::from_bytes(good[..len].to_vec()) {
            lookups(&db);
        }
    }
    // Flip bytes of the tree pages (metas stay valid, so every lookup runs).
    for at in (3 * PS..good.len()).step_by(3) {
        for x in [0x01, 0x80, 0xff] {
            let mut f = good.clone();
            f[at] ^= x;
            lookups(&Bolt::from_bytes(f).unwrap());
        }
    }
    // A branch pointing to itself.
    let mut f = good.clone();
    f[4 * PS + PAGE_HEADER + 8..4 * PS + PAGE_HEADER + 16].copy_from_slice(&4u64.to_le_bytes());
    f[4 * PS + PAGE_HEADER + ELEMENT + 8..4 * PS + PAGE_HEADER + 2 * ELEMENT]
        .copy_from_slice(&4u64.to_le_bytes());
    let e = Bolt::from_bytes(f).unwrap().get(&[], b"zz").unwrap_err();
    assert!(e.to_string().contains("loop"), "{e}");
}

/// podman's own state file: a pod made now is found by its id.
#[test]
fn reads_a_pod_name_from_podmans_real_state() {
    use crate::testutil::{is_root, podman_ready, skip};
    if !is_root() {
        return skip("needs root for podman");
    }
    if let Err(e) = podman_ready() {
        return skip(&e);
    }
    let name = format!("vigil-bolt-{}", std::process::id());
    let out = std::process::Command::new("podman")
        .args(["pod", "create", "--infra=false", "--name", &name])
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let found = crate::enrich::metadata::files::load_podman_pod_name(
        Path::new("/var/lib/containers/storage"),
        &id,
    );
    let _ = std::process::Command::new("podman")
        .args(["pod", "rm", "-f", &name])
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(found.unwrap().as_deref(), Some(name.as_str()));
}
