//! A small reader of kernel BTF (`/sys/kernel/btf/vmlinux`), enough to
//! resolve struct member offsets and struct sizes at start-up.
//!
//! It parses the header, the type section and the string section, indexes
//! structs and unions by name, and resolves dotted paths such as
//! `task_struct.real_parent` or `file.f_path.dentry`: each step looks
//! through anonymous struct/union members (recursively) and skips
//! typedef/const/volatile/restrict/type-tag wrappers to reach the next
//! composite type. Bitfield members report their bit offset and width.
//! Only what the sensor needs is kept; everything else is skipped by size.

use std::collections::HashMap;
use std::path::Path;

/// Where the running kernel exposes its BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

const MAGIC: u16 = 0xeb9f;
const HEADER_MIN: usize = 24;
const TYPE_LEN: usize = 12;
/// Nesting of anonymous members / modifiers we follow before giving up.
const MAX_DEPTH: usize = 32;

/// Why BTF could not be read or a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not BTF: magic {0:#06x}")]
    BadMagic(u16),
    #[error("BTF truncated: {0}")]
    Truncated(&'static str),
    #[error("BTF type {id} has unknown kind {kind}")]
    UnknownKind { id: u32, kind: u8 },
    #[error("BTF string offset {0} out of range")]
    BadString(u32),
    #[error("BTF type id {0} out of range")]
    BadTypeId(u32),
    #[error("no struct or union named `{0}` in BTF")]
    TypeNotFound(String),
    #[error("`{ty}` has no member `{member}`")]
    MemberNotFound { ty: String, member: String },
    #[error("`{0}` is not a struct or union, cannot look up `{1}` in it")]
    NotComposite(String, String),
    #[error("member path `{0}` is empty or malformed")]
    BadPath(String),
    #[error("`{0}` is a bitfield or not byte aligned")]
    NotByteAligned(String),
    #[error("type nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// BTF type kinds (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    fn from_raw(k: u8) -> Option<Kind> {
        Some(match k {
            1 => Kind::Int,
            2 => Kind::Ptr,
            3 => Kind::Array,
            4 => Kind::Struct,
            5 => Kind::Union,
            6 => Kind::Enum,
            7 => Kind::Fwd,
            8 => Kind::Typedef,
            9 => Kind::Volatile,
            10 => Kind::Const,
            11 => Kind::Restrict,
            12 => Kind::Func,
            13 => Kind::FuncProto,
            14 => Kind::Var,
            15 => Kind::Datasec,
            16 => Kind::Float,
            17 => Kind::DeclTag,
            18 => Kind::TypeTag,
            19 => Kind::Enum64,
            _ => return None,
        })
    }

    /// Bytes that follow the common 12-byte type record.
    fn extra_len(self, vlen: usize) -> usize {
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => 12 * vlen,
            Kind::Enum | Kind::FuncProto => 8 * vlen,
            _ => 0,
        }
    }

    /// Wrappers that only qualify or rename another type.
    fn is_alias(self) -> bool {
        matches!(
            self,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Type {
    kind: Kind,
    /// `size` for composites/ints, referenced type id for pointers/aliases.
    size_or_type: u32,
    /// Members of a struct/union: `members[first..first + count]`.
    first: u32,
    count: u32,
}

#[derive(Clone, Copy, Debug)]
struct Member {
    name_off: u32,
    type_id: u32,
    bit_offset: u32,
    bitfield_size: u32,
}

/// Where a member lives inside its outermost struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberOffset {
    /// Offset in bits from the start of the outermost struct.
    pub bits: u32,
    /// Width in bits if the member is a bitfield, else 0.
    pub bitfield_size: u32,
}

/// Parsed BTF: types, strings and a name index of structs and unions.
pub struct Btf {
    /// Index 0 is `void`; type ids index this directly.
    types: Vec<Type>,
    members: Vec<Member>,
    strings: Vec<u8>,
    composites: HashMap<String, Vec<u32>>,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

impl Btf {
    /// Read and parse the running kernel's BTF.
    pub fn from_sys_fs() -> Result<Btf, BtfError> {
        Btf::from_file(Path::new(VMLINUX))
    }

    pub fn from_file(path: &Path) -> Result<Btf, BtfError> {
        let data = std::fs::read(path).map_err(|source| BtfError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Btf::parse(&data)
    }

    /// Parse a raw BTF blob (header, types, strings) in native byte order.
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let magic = u16_at(data, 0).ok_or(BtfError::Truncated("header"))?;
        if magic != MAGIC {
            return Err(BtfError::BadMagic(magic));
        }
        let field = |off| u32_at(data, off).ok_or(BtfError::Truncated("header"));
        let hdr_len = field(4)? as usize;
        if hdr_len < HEADER_MIN {
            return Err(BtfError::Truncated("header length"));
        }
        let (type_off, type_len) = (field(8)? as usize, field(12)? as usize);
        let (str_off, str_len) = (field(16)? as usize, field(20)? as usize);
        let section = |off: usize, len: usize, what| {
            let start = hdr_len.checked_add(off).ok_or(BtfError::Truncated(what))?;
            let end = start.checked_add(len).ok_or(BtfError::Truncated(what))?;
            data.get(start..end).ok_or(BtfError::Truncated(what))
        };
        let type_sec = section(type_off, type_len, "type section")?;
        let strings = section(str_off, str_len, "string section")?.to_vec();

        let void = Type {
            kind: Kind::Int,
            size_or_type: 0,
            first: 0,
            count: 0,
        };
        let mut btf = Btf {
            types: vec![void],
            members: Vec::new(),
            strings,
            composites: HashMap::new(),
        };
        let mut pos = 0;
        while pos < type_sec.len() {
            let id = btf.types.len() as u32;
            let rec = type_sec
                .get(pos..pos + TYPE_LEN)
                .ok_or(BtfError::Truncated("type record"))?;
            let name_off = u32_at(rec, 0).unwrap_or(0);
            let info = u32_at(rec, 4).unwrap_or(0);
            let size_or_type = u32_at(rec, 8).unwrap_or(0);
            let vlen = (info & 0xffff) as usize;
            let raw_kind = ((info >> 24) & 0x1f) as u8;
            let kind_flag = info >> 31 == 1;
            let kind =
                Kind::from_raw(raw_kind).ok_or(BtfError::UnknownKind { id, kind: raw_kind })?;
            pos += TYPE_LEN;
            let extra_len = kind.extra_len(vlen);
            let extra = type_sec
                .get(pos..pos + extra_len)
                .ok_or(BtfError::Truncated("type data"))?;
            pos += extra_len;

            let mut ty = Type {
                kind,
                size_or_type,
                first: 0,
                count: 0,
            };
            if matches!(kind, Kind::Struct | Kind::Union) {
                ty.first = btf.members.len() as u32;
                ty.count = vlen as u32;
                for m in extra.chunks_exact(12) {
                    let raw_off = u32_at(m, 8).unwrap_or(0);
                    let (bit_offset, bitfield_size) = if kind_flag {
                        (raw_off & 0x00ff_ffff, raw_off >> 24)
                    } else {
                        (raw_off, 0)
                    };
                    btf.members.push(Member {
                        name_off: u32_at(m, 0).unwrap_or(0),
                        type_id: u32_at(m, 4).unwrap_or(0),
                        bit_offset,
                        bitfield_size,
                    });
                }
                let name = btf.string(name_off)?;
                if !name.is_empty() {
                    btf.composites.entry(name.to_owned()).or_default().push(id);
                }
            }
            btf.types.push(ty);
        }
        // Member type ids must point at parsed types.
        let n = btf.types.len() as u32;
        if let Some(m) = btf.members.iter().find(|m| m.type_id >= n) {
            return Err(BtfError::BadTypeId(m.type_id));
        }
        Ok(btf)
    }

    /// Number of types, not counting `void`.
    pub fn len(&self) -> usize {
        self.types.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn string(&self, off: u32) -> Result<&str, BtfError> {
        let tail = self
            .strings
            .get(off as usize..)
            .ok_or(BtfError::BadString(off))?;
        let end = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or(BtfError::BadString(off))?;
        std::str::from_utf8(&tail[..end]).map_err(|_| BtfError::BadString(off))
    }

    fn ty(&self, id: u32) -> Result<&Type, BtfError> {
        self.types.get(id as usize).ok_or(BtfError::BadTypeId(id))
    }

    /// The struct or union called `name`. When a name has several entries
    /// (e.g. a forward-declared twin) the one with members wins.
    fn composite(&self, name: &str) -> Result<u32, BtfError> {
        let ids = self
            .composites
            .get(name)
            .ok_or_else(|| BtfError::TypeNotFound(name.to_owned()))?;
        let best = ids
            .iter()
            .copied()
            .max_by_key(|&id| self.types[id as usize].count);
        best.ok_or_else(|| BtfError::TypeNotFound(name.to_owned()))
    }

    /// Follow typedef/const/volatile/restrict/type-tag to the real type.
    fn skip_aliases(&self, mut id: u32) -> Result<u32, BtfError> {
        for _ in 0..MAX_DEPTH {
            let t = self.ty(id)?;
            if !t.kind.is_alias() {
                return Ok(id);
            }
            id = t.size_or_type;
        }
        Err(BtfError::TooDeep)
    }

    /// `sizeof(struct name)` (or union).
    pub fn struct_size(&self, name: &str) -> Result<u32, BtfError> {
        Ok(self.ty(self.composite(name)?)?.size_or_type)
    }

    /// Resolve `struct.member[.member...]` to a bit offset from the start of
    /// the struct, looking through anonymous members.
    pub fn member_offset(&self, path: &str) -> Result<MemberOffset, BtfError> {
        let mut parts = path.split('.');
        let root = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| BtfError::BadPath(path.into()))?;
        let mut id = self.composite(root)?;
        let mut seen = root.to_owned();
        let mut total = 0u32;
        let mut last = None;
        for member in parts {
            if member.is_empty() {
                return Err(BtfError::BadPath(path.into()));
            }
            let cur = self.skip_aliases(id)?;
            if !matches!(self.ty(cur)?.kind, Kind::Struct | Kind::Union) {
                return Err(BtfError::NotComposite(seen, member.into()));
            }
            let (m, bits) =
                self.find_member(cur, member, 0)?
                    .ok_or_else(|| BtfError::MemberNotFound {
                        ty: seen.clone(),
                        member: member.into(),
                    })?;
            total = total.checked_add(bits).ok_or(BtfError::TooDeep)?;
            id = m.type_id;
            last = Some(m);
            seen.push('.');
            seen.push_str(member);
        }
        let m = last.ok_or_else(|| BtfError::BadPath(path.into()))?;
        Ok(MemberOffset {
            bits: total,
            bitfield_size: m.bitfield_size,
        })
    }

    /// Byte offset of a non-bitfield member path.
    pub fn byte_offset(&self, path: &str) -> Result<u32, BtfError> {
        let off = self.member_offset(path)?;
        if off.bitfield_size != 0 || off.bits % 8 != 0 {
            return Err(BtfError::NotByteAligned(path.into()));
        }
        Ok(off.bits / 8)
    }

    /// Find `name` among the members of composite `id`, descending into
    /// anonymous struct/union members. Returns the member and its bit offset
    /// relative to `id`.
    fn find_member(
        &self,
        id: u32,
        name: &str,
        depth: usize,
    ) -> Result<Option<(Member, u32)>, BtfError> {
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep);
        }
        let t = self.ty(id)?;
        let members = &self.members[t.first as usize..(t.first + t.count) as usize];
        for m in members {
            let mname = self.string(m.name_off)?;
            if mname == name {
                return Ok(Some((*m, m.bit_offset)));
            }
            if mname.is_empty() {
                let inner = self.skip_aliases(m.type_id)?;
                if matches!(self.ty(inner)?.kind, Kind::Struct | Kind::Union) {
                    if let Some((found, bits)) = self.find_member(inner, name, depth + 1)? {
                        return Ok(Some((found, m.bit_offset + bits)));
                    }
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
