//! `vigil log tree`: the process tree of a container (or of one pid and its
//! descendants) rebuilt from the clone, exec and exit events of a log, with
//! each process's start, execs (path and arguments) and end. Memory grows
//! with the number of processes shown, not with the log.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use monitor_user::event::{rfc3339, Data, Event};
use monitor_user::pipeline::query::{container_matches, parse_time, Query};

use super::{finish, for_each, open_inputs, stdout, Item, Problems};

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("root").required(true).args(["container", "pid"]))]
pub struct TreeArgs {
    /// Log directories and/or segment files.
    #[arg(required = true, value_name = "DIR|FILE")]
    pub paths: Vec<PathBuf>,
    /// The processes of this container: id prefix, name, or `host`.
    #[arg(long, value_name = "ID|NAME")]
    pub container: Option<String>,
    /// This process and its descendants.
    #[arg(long, value_name = "N")]
    pub pid: Option<u32>,
    /// Only events at or after T (as for `vigil log show`).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only events before T.
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
}

#[derive(Debug)]
struct Proc {
    pid: u32,
    ppid: u32,
    name: String,
    /// First time seen (its clone, else its first event).
    start: u64,
    execs: Vec<(u64, String)>,
    exit: Option<(u64, String)>,
    children: Vec<usize>,
}

#[derive(Default)]
struct Forest {
    procs: Vec<Proc>,
    /// pid → index of its latest incarnation (pids are reused).
    current: HashMap<u32, usize>,
}

impl Forest {
    fn node(&mut self, pid: u32, ppid: u32, name: &str, t: u64) -> usize {
        if let Some(&i) = self.current.get(&pid) {
            if self.procs[i].exit.is_none() {
                return i;
            }
        }
        self.procs.push(Proc {
            pid,
            ppid,
            name: name.to_owned(),
            start: t,
            execs: Vec::new(),
            exit: None,
            children: Vec::new(),
        });
        let i = self.procs.len() - 1;
        self.current.insert(pid, i);
        i
    }

    fn add(&mut self, ev: &Event) {
        let p = &ev.process;
        let t = ev.wall_ns;
        match &ev.data {
            Data::Clone(c) if c.child_pid != p.pid => {
                self.node(p.pid, p.ppid, &p.name, t);
                // A new process (threads share the pid and are not shown).
                if let Some(&i) = self.current.get(&c.child_pid) {
                    if self.procs[i].exit.is_none() {
                        return;
                    }
                }
                self.node(c.child_pid, p.pid, &p.name, t);
            }
            Data::Exec(x) => {
                let i = self.node(p.pid, p.ppid, &p.name, t);
                let path = p.exec.exepath.as_deref().unwrap_or(&x.filename);
                let line = monitor_user::event::cmdline(path, &p.exec.args);
                let n = &mut self.procs[i];
                n.name = p.name.to_string();
                n.ppid = p.ppid;
                n.execs.push((t, line));
            }
            Data::Exit(x) => {
                let i = self.node(p.pid, p.ppid, &p.name, t);
                let how = if x.signal != 0 {
                    format!("killed by signal {}", x.signal)
                } else {
                    format!("status {}", x.status)
                };
                self.procs[i].exit = Some((t, how));
            }
            _ => {
                self.node(p.pid, p.ppid, &p.name, t);
            }
        }
    }

    /// Links children to parents (the parent incarnation alive at the
    /// child's start) and returns the roots.
    fn link(&mut self) -> Vec<usize> {
        let mut by_pid: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, p) in self.procs.iter().enumerate() {
            by_pid.entry(p.pid).or_default().push(i);
        }
        let mut roots = Vec::new();
        for i in 0..self.procs.len() {
            let (ppid, start) = (self.procs[i].ppid, self.procs[i].start);
            let parent = by_pid.get(&ppid).and_then(|c| {
                c.iter()
                    .rev()
                    .find(|&&j| j != i && self.procs[j].start <= start)
                    .copied()
            });
            match parent {
                Some(j) => self.procs[j].children.push(i),
                None => roots.push(i),
            }
        }
        roots
    }
}

pub fn run(a: TreeArgs) -> anyhow::Result<ExitCode> {
    let now = monitor_recorder::writer::now_ns();
    let t = |s: &Option<String>| s.as_deref().map(|s| parse_time(s, now)).transpose();
    let query = Query {
        since: t(&a.since)?,
        until: t(&a.until)?,
        ..Query::default()
    };
    let log = open_inputs(&a.paths, Some(&query))?;
    let mut problems = Problems::default();
    let mut forest = Forest::default();
    // For --pid: the pids in the subtree so far (a child joins when its
    // parent's clone is seen).
    let mut wanted: BTreeSet<u32> = a.pid.into_iter().collect();
    for_each(&log, &mut problems, |item| {
        let Item::Event(ev) = item else {
            return Ok(true);
        };
        if !query.matches(&ev) {
            return Ok(true);
        }
        let keep = match (&a.container, a.pid) {
            (Some(c), _) => container_matches(&ev, c),
            (None, Some(_)) => {
                if let Data::Clone(c) = &ev.data {
                    if wanted.contains(&ev.process.pid) {
                        wanted.insert(c.child_pid);
                    }
                }
                wanted.contains(&ev.process.pid)
            }
            (None, None) => true,
        };
        if keep {
            forest.add(&ev);
        }
        Ok(true)
    })?;
    let mut roots = forest.link();
    if let Some(pid) = a.pid {
        roots.retain(|&i| forest.procs[i].pid == pid);
        if roots.is_empty() {
            roots = (0..forest.procs.len())
                .filter(|&i| forest.procs[i].pid == pid)
                .collect();
        }
    }
    let mut out = stdout();
    if roots.is_empty() {
        writeln!(out, "no matching processes in the log")?;
    }
    roots.sort_by_key(|&i| forest.procs[i].start);
    for r in roots {
        print_node(&mut out, &forest, r, 0)?;
    }
    finish(out)?;
    Ok(problems.exit_code())
}

fn print_node(out: &mut impl Write, f: &Forest, i: usize, depth: usize) -> std::io::Result<()> {
    let p = &f.procs[i];
    let pad = "  ".repeat(depth);
    let end = match &p.exit {
        Some((t, how)) => format!(", exit {} {how}", rfc3339(*t)),
        None => String::new(),
    };
    writeln!(
        out,
        "{pad}{} {} (start {}{end})",
        p.pid,
        p.name,
        rfc3339(p.start)
    )?;
    for (t, line) in &p.execs {
        writeln!(out, "{pad}    exec {} {line}", rfc3339(*t))?;
    }
    let mut kids = p.children.clone();
    kids.sort_by_key(|&k| f.procs[k].start);
    for k in kids {
        print_node(out, f, k, depth + 1)?;
    }
    Ok(())
}
