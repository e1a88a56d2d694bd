//! How an [`ExecContext`] is encoded: its fields in order, except that each
//! ancestor's environment is said as a change to the environment one level
//! below it (the process's own for the parent).
//!
//! Environments pass down the ancestry almost whole: a shell's child
//! differs from it in `_=` and perhaps an export or two. Written out in
//! full, the ancestors' copies made most of a logged event (4-8 KiB of a
//! host's environment per event, against a few hundred bytes for the
//! rest). Said as runs of the level below's entries plus the entries it
//! lacks, an ancestor's environment takes a few bytes. The change is
//! computed when the event is encoded and resolved when it is decoded
//! (once per distinct context: [`crate::event::shared`]), so in memory
//! every ancestor still holds its whole environment and a record still
//! depends on no other record.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::{Ancestor, Env, ExecContext, Leader, StdFd, Text};

/// One piece of an environment said against the level below's.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Piece<'a> {
    /// `len` entries of the level below, from index `at`.
    Keep { at: u32, len: u32 },
    /// An entry the level below lacks.
    Add(Cow<'a, str>),
}

/// An ancestor as encoded. `env`: `None` is the level below's
/// environment ([`Ancestor::env`]); otherwise its pieces.
#[derive(Serialize, Deserialize)]
struct AncestorWire<'a> {
    pid: u32,
    #[serde(deserialize_with = "crate::event::string::arc")]
    name: Text,
    #[serde(deserialize_with = "crate::event::string::arc_option")]
    exe: Option<Text>,
    #[serde(deserialize_with = "crate::event::string::arc_option")]
    exepath: Option<Text>,
    env: Option<Vec<Piece<'a>>>,
}

/// [`ExecContext`]'s fields in its declaration order; borrowed (or
/// shared) when encoding, owned when decoded.
#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    #[serde(deserialize_with = "crate::event::string::arc_option")]
    exe: Option<Text>,
    #[serde(deserialize_with = "crate::event::string::arc_option")]
    exepath: Option<Text>,
    args: Cow<'a, [String]>,
    is_exe_upper_layer: Option<bool>,
    is_exe_lower_layer: Option<bool>,
    is_exe_writable: Option<bool>,
    is_exe_from_memfd: Option<bool>,
    #[serde(deserialize_with = "crate::event::string::arc_option")]
    pname: Option<Text>,
    #[serde(deserialize_with = "crate::event::string::arc_option")]
    pexe: Option<Text>,
    #[serde(deserialize_with = "crate::event::string::arc_option")]
    pexepath: Option<Text>,
    pcmdline: Cow<'a, Option<String>>,
    ancestors: Vec<AncestorWire<'a>>,
    cap_effective: Option<u64>,
    cap_permitted: Option<u64>,
    cwd: Cow<'a, Option<String>>,
    stdin: Cow<'a, Option<StdFd>>,
    stdout: Cow<'a, Option<StdFd>>,
    env: Option<Env>,
    sid_leader: Cow<'a, Option<Leader>>,
    vpgid_leader: Cow<'a, Option<Leader>>,
}

impl Serialize for ExecContext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ExecContext {
            exe,
            exepath,
            args,
            is_exe_upper_layer,
            is_exe_lower_layer,
            is_exe_writable,
            is_exe_from_memfd,
            pname,
            pexe,
            pexepath,
            pcmdline,
            ancestors,
            cap_effective,
            cap_permitted,
            cwd,
            stdin,
            stdout,
            env,
            sid_leader,
            vpgid_leader,
        } = self;
        let mut below: &[String] = env.as_deref().unwrap_or_default();
        let ancestors = ancestors
            .iter()
            .map(|a| {
                let env = a.env.as_deref().map(|e| {
                    let pieces = change(below, e);
                    below = e;
                    pieces
                });
                AncestorWire {
                    pid: a.pid,
                    name: a.name.clone(),
                    exe: a.exe.clone(),
                    exepath: a.exepath.clone(),
                    env,
                }
            })
            .collect();
        Wire {
            exe: exe.clone(),
            exepath: exepath.clone(),
            args: Cow::Borrowed(args),
            is_exe_upper_layer: *is_exe_upper_layer,
            is_exe_lower_layer: *is_exe_lower_layer,
            is_exe_writable: *is_exe_writable,
            is_exe_from_memfd: *is_exe_from_memfd,
            pname: pname.clone(),
            pexe: pexe.clone(),
            pexepath: pexepath.clone(),
            pcmdline: Cow::Borrowed(pcmdline),
            ancestors,
            cap_effective: *cap_effective,
            cap_permitted: *cap_permitted,
            cwd: Cow::Borrowed(cwd),
            stdin: Cow::Borrowed(stdin),
            stdout: Cow::Borrowed(stdout),
            env: env.clone(),
            sid_leader: Cow::Borrowed(sid_leader),
            vpgid_leader: Cow::Borrowed(vpgid_leader),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExecContext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let mut below: Env = w.env.clone().unwrap_or_else(|| Env::from([]));
        let mut ancestors = Vec::with_capacity(w.ancestors.len());
        for a in w.ancestors {
            let env = match a.env {
                None => None,
                Some(pieces) => {
                    let env = apply(&below, pieces).map_err(serde::de::Error::custom)?;
                    below = env.clone();
                    Some(env)
                }
            };
            ancestors.push(Ancestor {
                pid: a.pid,
                name: a.name,
                exe: a.exe,
                exepath: a.exepath,
                env,
            });
        }
        Ok(ExecContext {
            exe: w.exe,
            exepath: w.exepath,
            args: w.args.into_owned().into(),
            is_exe_upper_layer: w.is_exe_upper_layer,
            is_exe_lower_layer: w.is_exe_lower_layer,
            is_exe_writable: w.is_exe_writable,
            is_exe_from_memfd: w.is_exe_from_memfd,
            pname: w.pname,
            pexe: w.pexe,
            pexepath: w.pexepath,
            pcmdline: w.pcmdline.into_owned(),
            ancestors,
            cap_effective: w.cap_effective,
            cap_permitted: w.cap_permitted,
            cwd: w.cwd.into_owned(),
            stdin: w.stdin.into_owned(),
            stdout: w.stdout.into_owned(),
            env: w.env,
            sid_leader: w.sid_leader.into_owned(),
            vpgid_leader: w.vpgid_leader.into_owned(),
        })
    }
}

/// `env` as runs of `below`'s entries and the entries `below` lacks, in
/// `env`'s order. Entries mostly follow one another in both, so each is
/// first compared with the one after the last match; only the rest are
/// looked for in all of `below`.
fn change<'a>(below: &[String], env: &'a [String]) -> Vec<Piece<'a>> {
    let mut pieces = Vec::new();
    let mut next = 0;
    for entry in env {
        let found = if below.get(next) == Some(entry) {
            Some(next)
        } else {
            below.iter().position(|b| b == entry)
        };
        let Some(at) = found else {
            pieces.push(Piece::Add(Cow::Borrowed(entry)));
            continue;
        };
        next = at + 1;
        // Indexes fit in u32: an environment read by vigil has at most a
        // few thousand entries.
        let at = at as u32;
        match pieces.last_mut() {
            Some(Piece::Keep { at: start, len }) if *start + *len == at => *len += 1,
            _ => pieces.push(Piece::Keep { at, len: 1 }),
        }
    }
    pieces
}

/// The environment `pieces` say against `below`; an error for a run
/// outside `below` (a damaged record).
fn apply(below: &[String], pieces: Vec<Piece>) -> Result<Env, String> {
    let mut env = Vec::new();
    for p in pieces {
        match p {
            Piece::Keep { at, len } => {
                let run = (at as usize)
                    .checked_add(len as usize)
                    .and_then(|end| below.get(at as usize..end))
                    .ok_or_else(|| {
                        format!(
                            "an ancestor's environment keeps entries {at}+{len} of {}",
                            below.len()
                        )
                    })?;
                env.extend_from_slice(run);
            }
            Piece::Add(entry) => env.push(entry.into_owned()),
        }
    }
    Ok(env.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(entries: &[&str]) -> Env {
        entries.iter().map(|e| e.to_string()).collect()
    }

    fn ancestor(pid: u32, env: Option<Env>) -> Ancestor {
        Ancestor {
            pid,
            name: format!("p{pid}").into(),
            exe: Some("sh".into()),
            exepath: None,
            env,
        }
    }

    fn encode(x: &ExecContext) -> Vec<u8> {
        monitor_recorder::typed::encode_into(x, Vec::new()).unwrap()
    }

    #[test]
    fn a_change_says_runs_of_the_level_below_and_what_it_lacks() {
        let below = env(&["A=1", "B=2", "C=3", "_=/bin/ls"]);
        let e = env(&["A=1", "B=2", "C=3", "_=/bin/sh"]);
        assert_eq!(
            change(&below, &e),
            [
                Piece::Keep { at: 0, len: 3 },
                Piece::Add("_=/bin/sh".into())
            ]
        );
        // Reordered, removed and added entries.
        let e = env(&["C=3", "X=9", "A=1", "B=2"]);
        let pieces = change(&below, &e);
        assert_eq!(
            pieces,
            [
                Piece::Keep { at: 2, len: 1 },
                Piece::Add("X=9".into()),
                Piece::Keep { at: 0, len: 2 },
            ]
        );
        assert_eq!(apply(&below, pieces).unwrap(), e);
        assert_eq!(change(&below, &[]), []);
        assert_eq!(apply(&below, Vec::new()).unwrap(), env(&[]));
    }

    #[test]
    fn every_ancestry_round_trips_and_shares_what_it_can() {
        let own = env(&["HOME=/root", "PATH=/bin", "_=/usr/bin/id"]);
        let x = ExecContext {
            env: Some(own.clone()),
            ancestors: vec![
                ancestor(2, Some(env(&["HOME=/root", "PATH=/bin", "_=/bin/sh"]))),
                // The same as the level below's.
                ancestor(3, None),
                // Unknown (empty) above a known one, then known again.
                ancestor(4, Some(env(&[]))),
                ancestor(5, Some(env(&["HOME=/root", "PATH=/bin"]))),
            ],
            ..ExecContext::default()
        };
        let bytes = encode(&x);
        let back: ExecContext = monitor_recorder::typed::decode(&bytes).unwrap();
        assert_eq!(back, x);
        // The parent's copy costs a run and its own `_`, not the whole.
        let mut whole = x.clone();
        whole.ancestors.truncate(1);
        let mut none = x.clone();
        none.ancestors.truncate(1);
        none.ancestors[0].env = Some(env(&[]));
        assert!(encode(&whole).len() < encode(&none).len() + "_=/bin/sh".len() + 8);

        // Without an environment of its own, the parent's is all new.
        let orphan = ExecContext {
            env: None,
            ancestors: vec![ancestor(2, Some(own))],
            ..ExecContext::default()
        };
        let back: ExecContext = monitor_recorder::typed::decode(&encode(&orphan)).unwrap();
        assert_eq!(back, orphan);
        let json = serde_json::to_string(&x).unwrap();
        assert_eq!(serde_json::from_str::<ExecContext>(&json).unwrap(), x);
    }

    #[test]
    fn a_run_outside_the_level_below_is_an_error_not_a_panic() {
        let below = env(&["A=1"]);
        for (at, len) in [(0, 2), (1, 1), (u32::MAX, 2), (2, u32::MAX)] {
            let err = apply(&below, vec![Piece::Keep { at, len }]).unwrap_err();
            assert!(err.contains("keeps entries"), "{err}");
        }
        // Through the decoder: a record whose run is longer than the
        // level below.
        let x = ExecContext {
            env: Some(below),
            ancestors: vec![ancestor(2, Some(env(&["A=1", "B=2"])))],
            ..ExecContext::default()
        };
        let mut w: Wire = monitor_recorder::typed::decode(&encode(&x)).unwrap();
        w.ancestors[0].env = Some(vec![Piece::Keep { at: 0, len: 5 }]);
        let bytes = monitor_recorder::typed::encode_into(&w, Vec::new()).unwrap();
        // (postcard keeps no message: the reader names the record's offset.)
        assert!(monitor_recorder::typed::decode::<ExecContext>(&bytes).is_err());
    }

    #[test]
    fn damaged_bytes_never_panic() {
        let x = ExecContext {
            env: Some(env(&["A=1", "B=2", "_=/bin/id"])),
            ancestors: vec![
                ancestor(2, Some(env(&["A=1", "B=2", "_=/bin/sh"]))),
                ancestor(3, Some(env(&["B=2", "C=3"]))),
            ],
            ..ExecContext::default()
        };
        let bytes = encode(&x);
        for at in 0..bytes.len() {
            for v in [0, 1, 2, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] = v;
                let _ = monitor_recorder::typed::decode::<ExecContext>(&b);
            }
            let _ = monitor_recorder::typed::decode::<ExecContext>(&bytes[..at]);
        }
    }
}
