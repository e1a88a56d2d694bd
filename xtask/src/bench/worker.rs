//! One benchmark workload, run as `xtask bench-worker` in a child process
//! that first joins the bench's limited cgroup. It prints one JSON line,
//! `{"iterations":N,"elapsed_ns":T}`, which the bench reads.

use std::ffi::CString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use vigil_tests::workloads::{fork_exec, getpid, open_close, open_close_once};

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// `cgroup.procs` files to join before running.
    #[arg(long = "join")]
    pub join: Vec<PathBuf>,
    #[command(subcommand)]
    pub workload: Workload,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum Workload {
    /// `syscall(SYS_getpid)` in a loop: a syscall nobody traces.
    Getpid {
        #[arg(long)]
        iterations: u64,
    },
    /// open(O_RDONLY) + close of a path the in-kernel filter drops.
    OpenClose {
        #[arg(long)]
        path: PathBuf,
        #[arg(long)]
        iterations: u64,
    },
    /// fork + execv(program) + waitpid, sequentially.
    ForkExec {
        #[arg(long, default_value = "/bin/true")]
        program: PathBuf,
        #[arg(long)]
        iterations: u64,
    },
    /// TCP connect + accept + close over loopback, sequentially (a new
    /// flow per iteration: connect, accept4).
    TcpConnect {
        #[arg(long)]
        iterations: u64,
    },
    /// sendto of one datagram to one loopback destination from one
    /// unconnected UDP socket (the kernel reports only the first).
    UdpSend {
        #[arg(long)]
        iterations: u64,
    },
    /// 64 KiB writes on one established loopback TCP connection, read by a
    /// second thread: established-flow data transfer (iterations = writes).
    TcpStream {
        #[arg(long)]
        iterations: u64,
    },
    /// open + close of `path` at `rate` per second for `seconds` (a rate
    /// beyond the machine: as fast as it can).
    Rate {
        #[arg(long)]
        path: PathBuf,
        #[arg(long)]
        rate: u64,
        #[arg(long)]
        seconds: f64,
    },
}

/// What a worker prints.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    pub iterations: u64,
    pub elapsed_ns: u64,
}

impl Sample {
    pub fn per_iteration_ns(&self) -> f64 {
        self.elapsed_ns as f64 / self.iterations.max(1) as f64
    }

    pub fn per_second(&self) -> f64 {
        self.iterations as f64 / (self.elapsed_ns.max(1) as f64 / 1e9)
    }
}

pub fn run(args: &WorkerArgs) -> Result<()> {
    super::cgroup::join(&args.join)?;
    let start = Instant::now();
    let iterations = match &args.workload {
        Workload::Getpid { iterations } => getpid(*iterations),
        Workload::OpenClose { path, iterations } => open_close(path, *iterations)?,
        Workload::ForkExec {
            program,
            iterations,
        } => fork_exec(program, *iterations)?,
        Workload::Rate {
            path,
            rate,
            seconds,
        } => rate_limited(path, *rate, *seconds)?,
        Workload::TcpConnect { iterations } => tcp_connect(*iterations)?,
        Workload::UdpSend { iterations } => udp_send(*iterations)?,
        Workload::TcpStream { iterations } => tcp_stream(*iterations)?,
    };
    let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    println!(
        "{}",
        serde_json::to_string(&Sample {
            iterations,
            elapsed_ns
        })?
    );
    Ok(())
}

fn tcp_connect(n: u64) -> Result<u64> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    for _ in 0..n {
        let c = std::net::TcpStream::connect(addr)?;
        let (s, _) = listener.accept()?;
        // The server closes first, so TIME_WAIT stays on its side and the
        // client's ephemeral ports do not run out.
        drop(s);
        drop(c);
    }
    Ok(n)
}

fn udp_send(n: u64) -> Result<u64> {
    let sink = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let to = sink.local_addr()?;
    // Nobody reads: the receive queue fills and the kernel drops, but every
    // sendto still runs the whole send path.
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    for _ in 0..n {
        s.send_to(b"vigil bench datagram", to)?;
    }
    Ok(n)
}

fn tcp_stream(n: u64) -> Result<u64> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let mut c = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut s, _) = listener.accept()?;
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(s.read(&mut buf), Ok(k) if k > 0) {}
    });
    let chunk = vec![7u8; 1 << 16];
    for _ in 0..n {
        c.write_all(&chunk)?;
    }
    drop(c);
    let _ = reader.join();
    Ok(n)
}

/// Paces opens to `rate`/s: each tick issues the opens that are due, then
/// sleeps briefly. Gives up on pacing after 1.5x the planned time (the
/// achieved rate is then what the machine could do).
fn rate_limited(path: &std::path::Path, rate: u64, seconds: f64) -> Result<u64> {
    let p = CString::new(path.as_os_str().as_encoded_bytes())
        .with_context(|| format!("{} has a NUL byte", path.display()))?;
    let total = (rate as f64 * seconds) as u64;
    let give_up = Duration::from_secs_f64(seconds * 1.5);
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        let elapsed = start.elapsed();
        if elapsed > give_up {
            break;
        }
        // At most 10k opens between two looks at the clock, so a rate
        // beyond the machine (the flood test) means "as fast as it can".
        let due = ((elapsed.as_secs_f64() * rate as f64) as u64 + 1)
            .min(total)
            .min(done + 10_000);
        while done < due {
            open_close_once(&p)?;
            done += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_rates() {
        let s = Sample {
            iterations: 1000,
            elapsed_ns: 2_000_000,
        };
        assert_eq!(s.per_iteration_ns(), 2000.0);
        assert_eq!(s.per_second(), 500_000.0);
        let s: Sample = serde_json::from_str(r#"{"iterations":3,"elapsed_ns":9}"#).unwrap();
        assert_eq!(
            s,
            Sample {
                iterations: 3,
                elapsed_ns: 9
            }
        );
    }

    #[test]
    fn workloads_run() {
        assert_eq!(getpid(10), 10);
        let me = std::env::current_exe().unwrap();
        assert_eq!(open_close(&me, 5).unwrap(), 5);
        assert!(open_close(std::path::Path::new("/nonexistent/vigil"), 1).is_err());
        assert_eq!(fork_exec(std::path::Path::new("/bin/true"), 3).unwrap(), 3);
        assert!(fork_exec(std::path::Path::new("/bin/false"), 1).is_err());
        assert_eq!(tcp_connect(3).unwrap(), 3);
        assert_eq!(udp_send(3).unwrap(), 3);
        assert_eq!(tcp_stream(2).unwrap(), 2);
    }

    #[test]
    fn rate_is_paced() {
        let me = std::env::current_exe().unwrap();
        let start = Instant::now();
        let n = rate_limited(&me, 2000, 0.25).unwrap();
        let took = start.elapsed().as_secs_f64();
        assert_eq!(n, 500);
        // Paced, not a burst: 500 opens at 2000/s take about 0.25 s.
        assert!(took > 0.2, "took {took}");
    }
}
