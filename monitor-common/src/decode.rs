//! Bounds-checked decoding of ring-buffer records (agent side).
//!
//! A record is untrusted bytes: [`decode`] checks the kind, the size and every
//! embedded length before anything is read, and returns a [`DecodeError`]
//! (never panics) so the caller can count the record as malformed and skip it.

use core::mem::size_of;

use crate::kinds::EventKind;
use crate::records::*;
use crate::syscalls::SyscallId;

extern crate alloc;
use alloc::boxed::Box;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than a header ({need} bytes)")]
    ShortHeader { len: usize, need: usize },
    #[error("unknown event kind {0}")]
    UnknownKind(u16),
    #[error("unsupported record version {version} for kind {kind}")]
    Version { kind: u16, version: u16 },
    #[error("{kind:?} record of {len} bytes, expected {need}")]
    Size {
        kind: EventKind,
        len: usize,
        need: usize,
    },
    #[error("{kind:?} record field {field} has length {len} beyond its buffer of {cap}")]
    Length {
        kind: EventKind,
        field: &'static str,
        len: usize,
        cap: usize,
    },
    #[error("unknown syscall id {0}")]
    UnknownSyscall(u16),
}

/// A decoded record. Large records are boxed so the enum stays small
/// (records are moved from the ring to the enricher by value).
#[derive(Clone)]
pub enum Record {
    Exec(Box<ExecRecord>),
    Fork(ForkRecord),
    Exit(ExitRecord),
    Syscall(Box<SyscallRecord>),
    ModuleLoad(Box<ModuleRecord>),
    CgroupMkdir(Box<CgroupRecord>),
    CgroupRmdir(Box<CgroupRecord>),
    OomKill(OomRecord),
    Dns(Box<DnsRecord>),
    Throttled(ThrottledRecord),
}

impl Record {
    pub fn header(&self) -> &Header {
        match self {
            Record::Exec(r) => &r.header,
            Record::Fork(r) => &r.header,
            Record::Exit(r) => &r.header,
            Record::Syscall(r) => &r.header,
            Record::ModuleLoad(r) => &r.header,
            Record::CgroupMkdir(r) | Record::CgroupRmdir(r) => &r.header,
            Record::OomKill(r) => &r.header,
            Record::Dns(r) => &r.header,
            Record::Throttled(r) => &r.header,
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Record::Exec(_) => EventKind::Exec,
            Record::Fork(_) => EventKind::Fork,
            Record::Exit(_) => EventKind::Exit,
            Record::Syscall(_) => EventKind::Syscall,
            Record::ModuleLoad(_) => EventKind::ModuleLoad,
            Record::CgroupMkdir(_) => EventKind::CgroupMkdir,
            Record::CgroupRmdir(_) => EventKind::CgroupRmdir,
            Record::OomKill(_) => EventKind::OomKill,
            Record::Dns(_) => EventKind::Dns,
            Record::Throttled(_) => EventKind::Throttled,
        }
    }
}

/// Peek at the kind of a record without decoding it (for drop accounting of
/// malformed records).
pub fn peek_kind(buf: &[u8]) -> Option<EventKind> {
    let raw = u16::from_ne_bytes([*buf.first()?, *buf.get(1)?]);
    EventKind::from_u16(raw)
}

/// Decode one ring-buffer record.
pub fn decode(buf: &[u8]) -> Result<Record, DecodeError> {
    if buf.len() < size_of::<Header>() {
        return Err(DecodeError::ShortHeader {
            len: buf.len(),
            need: size_of::<Header>(),
        });
    }
    // SAFETY: length checked above; Header is plain integers and arrays.
    let header: Header = unsafe { read(buf) };
    let kind = EventKind::from_u16(header.kind).ok_or(DecodeError::UnknownKind(header.kind))?;
    if !(MIN_RECORD_VERSION..=RECORD_VERSION).contains(&header.version) {
        return Err(DecodeError::Version {
            kind: header.kind,
            version: header.version,
        });
    }
    Ok(match kind {
        EventKind::Exec => {
            let r: Box<ExecRecord> = match header.version {
                1 => Box::new(exec_older(buf, EXEC_RECORD_V1_SIZE)?),
                2 => Box::new(exec_older(buf, EXEC_RECORD_V2_SIZE)?),
                3 => Box::new(exec_older(buf, EXEC_RECORD_V3_SIZE)?),
                _ => checked_box(kind, buf)?,
            };
            check_len(kind, "env", r.env_len as usize, ENV_LEN)?;
            check_len(
                kind,
                "cwd",
                r.cwd_start as usize + r.cwd_len as usize,
                EXE_BUF_LEN,
            )?;
            check_len(kind, "stdin", r.stdin.name_len as usize, PATH_LEN)?;
            check_len(kind, "stdout", r.stdout.name_len as usize, PATH_LEN)?;
            check_len(kind, "args", r.args_len as usize, ARGS_LEN)?;
            check_len(kind, "filename", r.filename_len as usize, PATH_LEN)?;
            check_len(
                kind,
                "exe",
                r.exe_start as usize + r.exe_len as usize,
                EXE_BUF_LEN,
            )?;
            Record::Exec(r)
        }
        EventKind::Fork => Record::Fork(checked(kind, buf)?),
        EventKind::Exit => Record::Exit(checked(kind, buf)?),
        EventKind::Syscall => {
            let r: Box<SyscallRecord> = checked_box(kind, buf)?;
            SyscallId::from_u16(r.syscall).ok_or(DecodeError::UnknownSyscall(r.syscall))?;
            check_len(kind, "str0", r.str0_len as usize, PATH_LEN)?;
            check_len(kind, "str1", r.str1_len as usize, PATH_LEN)?;
            check_len(kind, "short", r.short_len as usize, SHORT_LEN)?;
            Record::Syscall(r)
        }
        EventKind::ModuleLoad => {
            let r: Box<ModuleRecord> = checked_box(kind, buf)?;
            check_len(kind, "name", r.name_len as usize, SHORT_LEN)?;
            Record::ModuleLoad(r)
        }
        EventKind::CgroupMkdir | EventKind::CgroupRmdir => {
            let r: Box<CgroupRecord> = checked_box(kind, buf)?;
            check_len(kind, "path", r.path_len as usize, PATH_LEN)?;
            if kind == EventKind::CgroupMkdir {
                Record::CgroupMkdir(r)
            } else {
                Record::CgroupRmdir(r)
            }
        }
        EventKind::OomKill => Record::OomKill(checked(kind, buf)?),
        EventKind::Dns => {
            let r: Box<DnsRecord> = checked_box(kind, buf)?;
            check_len(kind, "payload", r.len as usize, DNS_PAYLOAD_LEN)?;
            Record::Dns(r)
        }
        EventKind::Throttled => {
            let r: ThrottledRecord = checked(kind, buf)?;
            SyscallId::from_u16(r.syscall).ok_or(DecodeError::UnknownSyscall(r.syscall))?;
            Record::Throttled(r)
        }
    })
}

/// An older exec record: the current layout cut at `size`; the fields it
/// lacks stay 0 (unknown: `vpid` 0, [`exec_flags::SESSION_KNOWN`] clear,
/// which older kernel programs never set).
fn exec_older(buf: &[u8], size: usize) -> Result<ExecRecord, DecodeError> {
    if buf.len() < size {
        return Err(DecodeError::Size {
            kind: EventKind::Exec,
            len: buf.len(),
            need: size,
        });
    }
    let mut full = alloc::vec![0u8; size_of::<ExecRecord>()];
    full[..size].copy_from_slice(&buf[..size]);
    // SAFETY: `full` holds a whole ExecRecord; any byte pattern is valid.
    Ok(unsafe { read(&full) })
}

fn checked<T: Copy>(kind: EventKind, buf: &[u8]) -> Result<T, DecodeError> {
    fits::<T>(kind, buf)?;
    // SAFETY: length checked; every record type is repr(C) integers/arrays
    // for which any byte pattern is valid.
    Ok(unsafe { read(buf) })
}

/// [`checked`] straight into a box: the large records (hundreds of bytes
/// to kilobytes, one per event) are copied once, not twice.
fn checked_box<T: Copy>(kind: EventKind, buf: &[u8]) -> Result<Box<T>, DecodeError> {
    fits::<T>(kind, buf)?;
    let mut b = Box::<T>::new_uninit();
    // SAFETY: `buf` holds at least a `T` (checked) and the copy fills all
    // of it; every record type is repr(C) integers/arrays for which any
    // byte pattern is valid.
    unsafe {
        core::ptr::copy_nonoverlapping(buf.as_ptr(), b.as_mut_ptr().cast::<u8>(), size_of::<T>());
        Ok(b.assume_init())
    }
}

/// A `T` fits in `buf`.
fn fits<T>(kind: EventKind, buf: &[u8]) -> Result<(), DecodeError> {
    if buf.len() < size_of::<T>() {
        return Err(DecodeError::Size {
            kind,
            len: buf.len(),
            need: size_of::<T>(),
        });
    }
    Ok(())
}

fn check_len(
    kind: EventKind,
    field: &'static str,
    len: usize,
    cap: usize,
) -> Result<(), DecodeError> {
    if len > cap {
        Err(DecodeError::Length {
            kind,
            field,
            len,
            cap,
        })
    } else {
        Ok(())
    }
}

/// # Safety
/// `buf` must hold at least `size_of::<T>()` bytes and `T` must be valid for
/// any byte pattern.
unsafe fn read<T: Copy>(buf: &[u8]) -> T {
    debug_assert!(buf.len() >= size_of::<T>());
    unsafe { core::ptr::read_unaligned(buf.as_ptr().cast::<T>()) }
}

/// A string field: the bytes kept and whether the kernel cut it short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a> {
    pub bytes: &'a [u8],
    pub truncated: bool,
}

/// Lengths were validated by [`decode`]; `min` keeps these total anyway.
fn slice(buf: &[u8], start: usize, len: usize) -> &[u8] {
    let start = start.min(buf.len());
    let end = start.saturating_add(len).min(buf.len());
    &buf[start..end]
}

impl Header {
    /// `comm` up to its first NUL.
    pub fn comm(&self) -> &[u8] {
        until_nul(&self.comm)
    }
}

/// Bytes up to the first NUL (or all of them).
pub fn until_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

impl ExecRecord {
    pub fn filename(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.filename, 0, self.filename_len as usize),
            truncated: self.flags & exec_flags::FILENAME_TRUNCATED != 0,
        }
    }

    /// Resolved path of the executable; empty if it could not be resolved.
    pub fn exe(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.exe, self.exe_start as usize, self.exe_len as usize),
            truncated: self.flags & exec_flags::EXE_TRUNCATED != 0,
        }
    }

    /// argv entries, as kept. The last one may be cut if `args_truncated`.
    pub fn args(&self) -> impl Iterator<Item = &[u8]> {
        let used = slice(&self.args, 0, self.args_len as usize);
        let used = used.strip_suffix(&[0]).unwrap_or(used);
        used.split(|&b| b == 0).filter(move |_| !used.is_empty())
    }

    pub fn args_truncated(&self) -> bool {
        self.flags & exec_flags::ARGS_TRUNCATED != 0
    }

    /// The environment as the kernel read it (NUL-separated), when
    /// [`exec_flags::CONTEXT_KNOWN`].
    pub fn env(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.env, 0, self.env_len as usize),
            truncated: self.flags & exec_flags::ENV_TRUNCATED != 0,
        }
    }

    /// The working directory; empty when it was not resolved.
    pub fn cwd(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.cwd, self.cwd_start as usize, self.cwd_len as usize),
            truncated: false,
        }
    }
}

impl StdFdRecord {
    /// The file's path, a unix socket's `sun_path` or an anonymous
    /// inode's name; empty when there is none.
    pub fn name(&self) -> &[u8] {
        slice(&self.name, 0, self.name_len as usize)
    }
}

impl SyscallRecord {
    pub fn id(&self) -> Option<SyscallId> {
        SyscallId::from_u16(self.syscall)
    }

    pub fn str0(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.str0, 0, self.str0_len as usize),
            truncated: self.flags & syscall_flags::STR0_TRUNCATED != 0,
        }
    }

    pub fn str1(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.str1, 0, self.str1_len as usize),
            truncated: self.flags & syscall_flags::STR1_TRUNCATED != 0,
        }
    }

    /// The socket's endpoints the kernel read at exit (network syscalls).
    pub fn tuple(&self) -> Option<SockTuple> {
        if self.flags & syscall_flags::STR1_TUPLE == 0
            || (self.str1_len as usize) < size_of::<SockTuple>()
        {
            return None;
        }
        // SAFETY: str1 holds more than a SockTuple, a plain struct of
        // integers valid for any bytes.
        Some(unsafe { read(&self.str1) })
    }

    pub fn short(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.short, 0, self.short_len as usize),
            truncated: self.flags & syscall_flags::SHORT_TRUNCATED != 0,
        }
    }
}

impl ModuleRecord {
    pub fn name(&self) -> &[u8] {
        slice(&self.name, 0, self.name_len as usize)
    }
}

impl CgroupRecord {
    pub fn path(&self) -> Bytes<'_> {
        Bytes {
            bytes: slice(&self.path, 0, self.path_len as usize),
            truncated: self.truncated != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn header(kind: EventKind, size: usize) -> Header {
        Header {
            kind: kind as u16,
            version: RECORD_VERSION,
            size: size as u32,
            boot_ns: 1,
            cgroup_id: 2,
            tgid: 3,
            tid: 3,
            ppid: 1,
            uid: 0,
            gid: 0,
            euid: 0,
            egid: 0,
            _pad: 0,
            comm: *b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ns: Namespaces::default(),
        }
    }

    fn bytes_of<T>(v: &T) -> Vec<u8> {
        // SAFETY: test-only view of a repr(C) value as bytes.
        unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
            .to_vec()
    }

    fn std_fd() -> StdFdRecord {
        StdFdRecord {
            mode: 0o020666,
            fs_magic: 0x1373,
            ino: 5,
            ..StdFdRecord::CLOSED
        }
    }

    fn exec_record() -> ExecRecord {
        let mut r = ExecRecord {
            header: header(EventKind::Exec, size_of::<ExecRecord>()),
            cap_effective: 0,
            cap_permitted: 0,
            exe_ino: 7,
            flags: 0,
            args_len: 0,
            filename_len: 0,
            exe_start: 0,
            exe_len: 0,
            argc: 2,
            filename: [0; PATH_LEN],
            exe: [0; EXE_BUF_LEN],
            args: [0; ARGS_LEN],
            vpid: 1,
            _pad2: 0,
            tty: 34816,
            loginuid: 1000,
            sid: 1,
            vpgid: 1,
            exe_mode: 0o100755,
            exe_uid: 0,
            exe_gid: 0,
            env_len: 0,
            cwd_start: 0,
            cwd_len: 0,
            _pad3: 0,
            stdin: std_fd(),
            stdout: std_fd(),
            cwd: [0; EXE_BUF_LEN],
            env: [0; ENV_LEN],
        };
        let env = b"HOME=/root\0PATH=/bin";
        r.env[..env.len()].copy_from_slice(env);
        r.env_len = env.len() as u32;
        r.cwd[EXE_BUF_LEN - 4..].copy_from_slice(b"/srv");
        r.cwd_start = (EXE_BUF_LEN - 4) as u16;
        r.cwd_len = 4;
        r.stdin.name[..9].copy_from_slice(b"/dev/null");
        r.stdin.name_len = 9;
        let args = b"ls\0-la\0";
        r.args[..args.len()].copy_from_slice(args);
        r.args_len = args.len() as u32;
        r.filename[..7].copy_from_slice(b"/bin/ls");
        r.filename_len = 7;
        let exe = b"/usr/bin/ls";
        r.exe_start = (EXE_BUF_LEN - exe.len()) as u16;
        r.exe[EXE_BUF_LEN - exe.len()..].copy_from_slice(exe);
        r.exe_len = exe.len() as u16;
        r
    }

    #[test]
    fn decodes_exec() {
        let buf = bytes_of(&exec_record());
        let Record::Exec(r) = decode(&buf).unwrap() else {
            panic!("not exec")
        };
        assert_eq!(r.filename().bytes, b"/bin/ls");
        assert_eq!(r.exe().bytes, b"/usr/bin/ls");
        let args: Vec<&[u8]> = r.args().collect();
        assert_eq!(args, [&b"ls"[..], &b"-la"[..]]);
        assert_eq!(r.header.comm(), b"sh");
    }

    #[test]
    fn rejects_short_and_unknown() {
        assert!(matches!(decode(&[]), Err(DecodeError::ShortHeader { .. })));
        let mut buf = bytes_of(&exec_record());
        buf[0] = 0xff;
        buf[1] = 0xff;
        assert_eq!(decode(&buf).err(), Some(DecodeError::UnknownKind(0xffff)));
        let buf = bytes_of(&exec_record());
        assert!(matches!(decode(&buf[..200]), Err(DecodeError::Size { .. })));
    }

    #[test]
    fn rejects_lengths_beyond_buffers() {
        let mut r = exec_record();
        r.exe_start = (EXE_BUF_LEN - 1) as u16;
        r.exe_len = 2;
        assert!(matches!(
            decode(&bytes_of(&r)),
            Err(DecodeError::Length { field: "exe", .. })
        ));
        let mut r = exec_record();
        r.args_len = ARGS_LEN as u32 + 1;
        assert!(matches!(
            decode(&bytes_of(&r)),
            Err(DecodeError::Length { field: "args", .. })
        ));
    }

    #[test]
    fn decodes_version_1_exec_without_vpid() {
        let mut r = exec_record();
        r.header.version = 1;
        let buf = bytes_of(&r);
        let Record::Exec(d) = decode(&buf[..EXEC_RECORD_V1_SIZE]).unwrap() else {
            panic!("not exec")
        };
        assert_eq!(d.vpid, 0);
        assert_eq!(d.exe().bytes, b"/usr/bin/ls");
        assert!(matches!(
            decode(&buf[..EXEC_RECORD_V1_SIZE - 1]),
            Err(DecodeError::Size { .. })
        ));
        // A version-2 record must carry vpid, and has no session fields.
        r.header.version = 2;
        let buf = bytes_of(&r);
        assert!(matches!(
            decode(&buf[..EXEC_RECORD_V1_SIZE]),
            Err(DecodeError::Size { .. })
        ));
        let Record::Exec(d) = decode(&buf[..EXEC_RECORD_V2_SIZE]).unwrap() else {
            panic!("not exec")
        };
        assert_eq!((d.vpid, d.tty, d.loginuid), (1, 0, 0));
        // A version-3 record must carry them, and has no exec context.
        r.header.version = 3;
        let buf = bytes_of(&r);
        assert!(matches!(
            decode(&buf[..EXEC_RECORD_V2_SIZE]),
            Err(DecodeError::Size { .. })
        ));
        let Record::Exec(d) = decode(&buf[..EXEC_RECORD_V3_SIZE]).unwrap() else {
            panic!("not exec")
        };
        assert_eq!((d.tty, d.loginuid, d.sid, d.vpgid), (34816, 1000, 1, 1));
        assert_eq!((d.env_len, d.cwd_len, d.stdin.mode), (0, 0, 0));
        // A version-4 record must carry it.
        r.header.version = 4;
        let buf = bytes_of(&r);
        assert!(matches!(
            decode(&buf[..EXEC_RECORD_V3_SIZE]),
            Err(DecodeError::Size { .. })
        ));
        let Record::Exec(d) = decode(&buf).unwrap() else {
            panic!("not exec")
        };
        assert_eq!(d.env().bytes, b"HOME=/root\0PATH=/bin");
        assert_eq!(d.cwd().bytes, b"/srv");
        assert_eq!(d.stdin.name(), b"/dev/null");
    }

    #[test]
    fn rejects_wrong_version() {
        let mut r = exec_record();
        r.header.version = 99;
        assert!(matches!(
            decode(&bytes_of(&r)),
            Err(DecodeError::Version { .. })
        ));
    }

    #[test]
    fn empty_args_yield_nothing() {
        let mut r = exec_record();
        r.args_len = 0;
        assert_eq!(r.args().count(), 0);
    }
}
