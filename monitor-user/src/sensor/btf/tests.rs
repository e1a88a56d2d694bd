use super::*;

/// Builds a BTF blob by hand: strings first, then types.
#[derive(Default)]
struct Builder {
    strings: Vec<u8>,
    types: Vec<u8>,
    next_id: u32,
}

impl Builder {
    fn new() -> Self {
        Builder {
            strings: vec![0],
            types: Vec::new(),
            next_id: 1,
        }
    }

    fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn push(&mut self, name: &str, kind: u32, vlen: u32, kflag: bool, size_or_type: u32) -> u32 {
        let name = self.str(name);
        let info = (kind << 24) | vlen | if kflag { 1 << 31 } else { 0 };
        for v in [name, info, size_or_type] {
            self.types.extend_from_slice(&v.to_ne_bytes());
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn int(&mut self, name: &str, bytes: u32) -> u32 {
        let id = self.push(name, 1, 0, false, bytes);
        self.types.extend_from_slice(&(bytes * 8).to_ne_bytes());
        id
    }

    fn ptr(&mut self, to: u32) -> u32 {
        self.push("", 2, 0, false, to)
    }

    fn alias(&mut self, kind: u32, name: &str, to: u32) -> u32 {
        self.push(name, kind, 0, false, to)
    }

    /// members: (name, type, bit offset, bitfield size)
    fn composite(
        &mut self,
        union: bool,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let kflag = members.iter().any(|m| m.3 != 0);
        let id = self.push(
            name,
            if union { 5 } else { 4 },
            members.len() as u32,
            kflag,
            size,
        );
        for &(n, ty, off, bits) in members {
            let n = self.str(n);
            let off = if kflag { (bits << 24) | off } else { off };
            for v in [n, ty, off] {
                self.types.extend_from_slice(&v.to_ne_bytes());
            }
        }
        id
    }

    fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_ne_bytes());
        out.push(1);
        out.push(0);
        for v in [
            24u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// struct inner { u32 a; u64 b; };
/// typedef const struct inner inner_t;
/// struct outer {                       // size 64
///     u32 x;                            // 0
///     u32 flag:3, mode:5;               // bits 32.., 35..
///     union { u64 hash_len; struct { u32 hash; u32 len; }; };  // 8
///     volatile inner_t in;              // 16
///     struct inner *p;                  // 32
/// };
fn sample() -> Btf {
    let mut b = Builder::new();
    let u32_t = b.int("unsigned int", 4);
    let u64_t = b.int("long long unsigned int", 8);
    let inner = b.composite(
        false,
        "inner",
        16,
        &[("a", u32_t, 0, 0), ("b", u64_t, 64, 0)],
    );
    let c = b.alias(10, "", inner);
    let td = b.alias(8, "inner_t", c);
    let vol = b.alias(9, "", td);
    let anon_s = b.composite(
        false,
        "",
        8,
        &[("hash", u32_t, 0, 0), ("len", u32_t, 32, 0)],
    );
    let anon_u = b.composite(
        true,
        "",
        8,
        &[("hash_len", u64_t, 0, 0), ("", anon_s, 0, 0)],
    );
    let p = b.ptr(inner);
    b.composite(
        false,
        "outer",
        64,
        &[
            ("x", u32_t, 0, 0),
            ("flag", u32_t, 32, 3),
            ("mode", u32_t, 35, 5),
            ("", anon_u, 64, 0),
            ("in", vol, 128, 0),
            ("p", p, 256, 0),
        ],
    );
    Btf::parse(&b.build()).expect("parse sample")
}

#[test]
fn plain_and_nested_members() {
    let btf = sample();
    assert_eq!(btf.len(), 10);
    assert_eq!(btf.byte_offset("outer.x").unwrap(), 0);
    assert_eq!(btf.byte_offset("outer.p").unwrap(), 32);
    // Through volatile -> typedef -> const -> struct inner.
    assert_eq!(btf.byte_offset("outer.in.b").unwrap(), 16 + 8);
    assert_eq!(btf.struct_size("outer").unwrap(), 64);
    assert_eq!(btf.struct_size("inner").unwrap(), 16);
}

#[test]
fn anonymous_union_and_struct() {
    let btf = sample();
    assert_eq!(btf.byte_offset("outer.hash_len").unwrap(), 8);
    assert_eq!(btf.byte_offset("outer.hash").unwrap(), 8);
    assert_eq!(btf.byte_offset("outer.len").unwrap(), 12);
}

#[test]
fn bitfields() {
    let btf = sample();
    assert_eq!(
        btf.member_offset("outer.flag").unwrap(),
        MemberOffset {
            bits: 32,
            bitfield_size: 3
        }
    );
    assert_eq!(
        btf.member_offset("outer.mode").unwrap(),
        MemberOffset {
            bits: 35,
            bitfield_size: 5
        }
    );
    assert!(matches!(
        btf.byte_offset("outer.mode"),
        Err(BtfError::NotByteAligned(_))
    ));
}

#[test]
fn missing_members_and_types() {
    let btf = sample();
    assert!(matches!(
        btf.byte_offset("outer.nope"),
        Err(BtfError::MemberNotFound { .. })
    ));
    assert!(matches!(
        btf.byte_offset("outer.in.nope"),
        Err(BtfError::MemberNotFound { .. })
    ));
    assert!(matches!(
        btf.byte_offset("nosuch.x"),
        Err(BtfError::TypeNotFound(_))
    ));
    // A pointer member is not followed: `p` is not a composite.
    assert!(matches!(
        btf.byte_offset("outer.p.a"),
        Err(BtfError::NotComposite(..))
    ));
    assert!(matches!(
        btf.byte_offset("outer"),
        Err(BtfError::BadPath(_))
    ));
    assert!(matches!(
        btf.byte_offset("outer..x"),
        Err(BtfError::BadPath(_))
    ));
}

#[test]
fn malformed_blobs_are_errors() {
    assert!(matches!(Btf::parse(&[]), Err(BtfError::Truncated(_))));
    assert!(matches!(Btf::parse(&[0; 24]), Err(BtfError::BadMagic(0))));
    let good = {
        let mut b = Builder::new();
        let u = b.int("int", 4);
        b.composite(false, "s", 4, &[("a", u, 0, 0)]);
        b.build()
    };
    assert!(Btf::parse(&good).is_ok());
    // Cut anywhere inside the sections: always an error, never a panic.
    for cut in 0..good.len() {
        assert!(Btf::parse(&good[..cut]).is_err(), "cut at {cut}");
    }
    // Unknown kind.
    let mut bad = good.clone();
    bad[24 + 7] = 30; // high byte of the first type's info
    assert!(matches!(
        Btf::parse(&bad),
        Err(BtfError::UnknownKind { .. })
    ));
    // Member referring to a type id that does not exist.
    let mut b = Builder::new();
    b.composite(false, "s", 4, &[("a", 99, 0, 0)]);
    assert!(matches!(
        Btf::parse(&b.build()),
        Err(BtfError::BadTypeId(99))
    ));
}

/// The real kernel's BTF: spot-check members the sensor depends on
/// against invariants that hold on every kernel.
#[test]
fn real_vmlinux() {
    if !Path::new(VMLINUX).exists() {
        eprintln!("skipping: {VMLINUX} does not exist on this kernel");
        return;
    }
    let btf = Btf::from_sys_fs().expect("parse vmlinux BTF");
    assert!(btf.len() > 10_000, "suspiciously few types: {}", btf.len());
    // kuid_t is a one-member struct, so cred.uid.val == cred.uid.
    assert_eq!(
        btf.byte_offset("cred.uid.val").unwrap(),
        btf.byte_offset("cred.uid").unwrap()
    );
    // file.f_path.dentry is path.dentry past f_path.
    assert_eq!(
        btf.byte_offset("file.f_path.dentry").unwrap(),
        btf.byte_offset("file.f_path").unwrap() + btf.byte_offset("path.dentry").unwrap()
    );
    // qstr's len lives in an anonymous struct inside an anonymous union,
    // right after the 32-bit hash.
    let hash = btf.byte_offset("qstr.hash").unwrap();
    assert_eq!(btf.byte_offset("qstr.len").unwrap(), hash + 4);
    // mm_struct keeps most members in an anonymous struct.
    let start = btf.byte_offset("mm_struct.arg_start").unwrap();
    assert_eq!(btf.byte_offset("mm_struct.arg_end").unwrap(), start + 8);
    // ovl_inode-style layout relies on sizeof(struct inode) being 8-aligned.
    let inode = btf.struct_size("inode").unwrap();
    assert!(
        inode > 100 && inode.is_multiple_of(8),
        "sizeof(struct inode) = {inode}"
    );
    // comm is TASK_COMM_LEN bytes before whatever follows; tgid follows pid.
    let pid = btf.byte_offset("task_struct.pid").unwrap();
    assert_eq!(btf.byte_offset("task_struct.tgid").unwrap(), pid + 4);
    assert!(btf.byte_offset("task_struct.no_such_member").is_err());
    // Some task_struct members are bitfields on every kernel.
    let bf = btf
        .member_offset("task_struct.sched_reset_on_fork")
        .unwrap();
    assert_eq!(bf.bitfield_size, 1);
}
