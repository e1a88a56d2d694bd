//! Attacker behaviours the default rules name, live in real podman
//! containers of two kinds of image: busybox (every tool an applet of one
//! multi-call binary, run through links, `busybox APPLET` or
//! `/proc/self/exe`) and glibc (the host's own bash, coreutils and wget,
//! dynamically linked). For each behaviour the benign look-alike runs
//! first and must stay quiet; then the act itself must raise its rule's
//! alert, naming the container and the process as an analyst would.
//!
//! Behaviours: reverse shell (a shell whose stdin/stdout is a TCP
//! connection; look-alike: a unix socket pair), failed execve (a file that
//! is not executable; look-alike: the ENOENT of a `$PATH` search),
//! persistence writes (crontab, shell profile; look-alike: reading them,
//! writing elsewhere), the runc overwrite (`/proc/self/exe` opened for
//! writing; look-alike: opened for reading), a network tool named by its
//! applet, a web shell (busybox httpd running a CGI shell; look-alike: a
//! static page, and a shell started by a shell), and signals to the agent
//! by rt_sigqueueinfo, rt_tgsigqueueinfo and pidfd_send_signal
//! (look-alike: pidfd_send_signal to another process).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use vigil_tests::actions::{actions_binary, actions_image, glibc_image, ACTIONS_IN_IMAGE};
use vigil_tests::events::{field, s};
use vigil_tests::podman::{ImageBuilder, TempDir};
use vigil_tests::{require_podman, require_vigil_binary, Agent, Container};

static SERIAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(15);
/// How long the quiet phase waits for an alert that must not come.
const QUIET: Duration = Duration::from_secs(3);

fn can_run() -> bool {
    require_podman() && require_vigil_binary().is_some()
}

fn agent(dir: &Path) -> Agent {
    Agent::builder(["run", "--events"])
        .arg(dir.join("events.jsonl"))
        .echo(false)
        .start()
        .expect("start vigil run")
}

fn in_container(a: &Value, c: &Container) -> bool {
    field(a, "container.id") == c.short_id()
}

/// The alert of `rule` in container `c` that satisfies `pred`, within
/// [`WAIT`]; on failure quotes the alerts and the container's events.
fn expect(
    agent: &Agent,
    dir: &Path,
    c: &Container,
    rule: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    if let Some(a) = agent.wait_stdout_json(WAIT, |a| {
        s(a, "rule") == rule && in_container(a, c) && pred(a)
    }) {
        return a;
    }
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
    let needle = format!("\"container.full_id\":\"{}\"", c.id());
    let tail: Vec<&str> = events.lines().filter(|l| l.contains(&needle)).collect();
    let tail = &tail[tail.len().saturating_sub(30)..];
    panic!(
        "no alert `{rule}` in container {}; alerts:\n{}\nits last events:\n{}",
        c.short_id(),
        agent.stdout_lines().join("\n"),
        tail.join("\n")
    );
}

/// After [`QUIET`], no alert of any of `rules` in `c`.
fn expect_quiet(agent: &Agent, c: &Container, rules: &[&str], what: &str) {
    std::thread::sleep(QUIET);
    let alerts: Vec<String> = agent
        .stdout_json()
        .expect("alerts are JSON lines")
        .into_iter()
        .filter(|a| in_container(a, c) && rules.contains(&s(a, "rule")))
        .map(|a| a.to_string())
        .collect();
    assert!(alerts.is_empty(), "{what} raised:\n{}", alerts.join("\n"));
}

fn exec(c: &Container, cmd: &[&str]) -> String {
    let out = c.exec(cmd).expect("podman exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn act(c: &Container, args: &[&str]) -> String {
    let mut cmd = vec![ACTIONS_IN_IMAGE];
    cmd.extend_from_slice(args);
    exec(c, &cmd)
}

const REVERSE: &str = "Reverse shell in container";
const FAILED: &str = "Failed execution attempt in container";
const PERSIST: &str = "Persistence file written in container";
const OVERWRITE: &str = "Container runtime binary overwrite attempt";
const NETTOOL: &str = "Network tool in container";
const WEBSHELL: &str = "Web shell in container";

/// The same acts in a container of `image`; `exepath` is where `wget`'s
/// executable is in that image.
fn behaviours_in(image: &str, wget_exepath: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("vigil-behaviours").expect("temp dir");
    let agent = agent(dir.path());
    let c = Container::start_image(image).expect("start container");

    // Look-alikes first: all of them must stay quiet.
    let out = act(&c, &["shell-on", "unix", "/bin/sh"]);
    assert!(out.contains("shell-on: ok"), "{out}");
    exec(&c, &["sh", "-c", "no-such-command-here; true"]);
    exec(
        &c,
        &[
            "sh",
            "-c",
            "cat /etc/profile /root/.profile; echo x > /tmp/profile",
        ],
    );
    act(&c, &["open-read", "/proc/self/exe"]);
    exec(&c, &["sh", "-c", "sh -c id"]);
    expect_quiet(
        &agent,
        &c,
        &[REVERSE, FAILED, PERSIST, OVERWRITE, WEBSHELL],
        "a benign look-alike",
    );

    // Reverse shell: a shell reading commands from a TCP connection.
    let out = act(&c, &["shell-on", "tcp", "/bin/sh"]);
    assert!(out.contains("shell-on: ok"), "{out}");
    let a = expect(&agent, dir.path(), &c, REVERSE, |_| true);
    assert_eq!(field(&a, "proc.name"), "sh", "{a}");
    assert_eq!(field(&a, "proc.stdin.type"), "ipv4", "{a}");
    assert!(field(&a, "proc.stdin.name").contains("->127.0.0.1:"), "{a}");

    // A file that is not executable: EACCES.
    let out = act(&c, &["exec", "/etc/shadow"]);
    assert!(out.contains("exec: Permission denied"), "{out}");
    let a = expect(&agent, dir.path(), &c, FAILED, |_| true);
    assert!(s(&a, "output").contains("file=/etc/shadow"), "{a}");
    assert!(s(&a, "output").contains("res=EACCES"), "{a}");

    // Persistence: a cron table and root's shell profile, by the shell.
    exec(
        &c,
        &["sh", "-c", "echo '* * * * * root id' >> /etc/crontab"],
    );
    expect(&agent, dir.path(), &c, PERSIST, |a| {
        field(a, "fd.name") == "/etc/crontab"
    });
    exec(&c, &["sh", "-c", "echo 'id' >> /root/.profile"]);
    expect(&agent, dir.path(), &c, PERSIST, |a| {
        field(a, "fd.name") == "/root/.profile"
    });

    // The runc overwrite: the running binary refuses (ETXTBSY); the
    // attempt is the alert.
    let out = act(&c, &["open-write", "/proc/self/exe"]);
    assert!(out.contains("Text file busy"), "{out}");
    expect(&agent, dir.path(), &c, OVERWRITE, |_| true);

    // A network tool, named by its own name in both images.
    exec(
        &c,
        &[
            "wget",
            "-q",
            "-T",
            "2",
            "-O",
            "/dev/null",
            "http://127.0.0.1:9/",
        ],
    );
    let a = expect(&agent, dir.path(), &c, NETTOOL, |_| true);
    assert_eq!(field(&a, "proc.name"), "wget", "{a}");
    assert_eq!(field(&a, "proc.exepath"), wget_exepath, "{a}");
    drop(c);
    let stopped = agent.stop().expect("stop agent");
    assert!(stopped.status.success(), "{}", stopped.status);
}

#[test]
fn behaviours_in_a_busybox_image() {
    if !can_run() {
        return;
    }
    let image = actions_image().expect("actions image");
    behaviours_in(&image, "/bin/busybox");
}

#[test]
fn behaviours_in_a_glibc_image() {
    if !can_run() {
        return;
    }
    let image = glibc_image().expect("glibc image");
    behaviours_in(&image, "/usr/bin/wget");
}

/// Busybox applets however they are started: through a link (the
/// kernel's name is already right), `busybox APPLET` (the kernel says
/// `busybox`) and `/proc/self/exe` (the kernel says `exe`).
#[test]
fn busybox_applets_are_named_after_the_applet() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = actions_image().expect("actions image");
    let dir = TempDir::new("vigil-applets").expect("temp dir");
    let agent = agent(dir.path());
    let c = Container::start_image(&image).expect("start container");
    let url = "http://127.0.0.1:9/";
    for (how, cmd) in [
        (
            "busybox-applet",
            vec![
                "busybox",
                "wget",
                "-q",
                "-U",
                "busybox-applet",
                "-O",
                "/dev/null",
                url,
            ],
        ),
        (
            "proc-self-exe",
            vec![
                "sh",
                "-c",
                "exec -a wget /proc/self/exe -q -U proc-self-exe -O /dev/null http://127.0.0.1:9/",
            ],
        ),
    ] {
        exec(&c, &cmd);
        let a = expect(&agent, dir.path(), &c, NETTOOL, |a| {
            field(a, "proc.cmdline").contains(how)
        });
        assert_eq!(field(&a, "proc.name"), "wget", "{how}: {a}");
        assert_eq!(field(&a, "proc.exepath"), "/bin/busybox", "{how}: {a}");
    }
    drop(c);
    agent.stop().expect("stop agent");
}

/// A web server's CGI script starting a shell is a web shell; the server
/// serving a static page, and the same tools run from the entrypoint's
/// shell, are not.
#[test]
fn web_shell_from_a_cgi_script() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let image = "localhost/vigil-webshell:1";
    ImageBuilder::new(image)
        .text("/www/index.html", "<p>hello</p>\n", 0o644)
        .text(
            "/www/cgi-bin/run",
            "#!/bin/sh\necho 'Content-Type: text/plain'\necho\nid\n",
            0o755,
        )
        .ensure()
        .expect("web shell image");
    let dir = TempDir::new("vigil-webshell").expect("temp dir");
    let agent = agent(dir.path());
    let c = Container::run(
        &[],
        image,
        &["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/www"],
    )
    .expect("start httpd container");
    let get = |path: &str| {
        // The server may need a moment to listen.
        for _ in 0..20 {
            let out = exec(
                &c,
                &[
                    "wget",
                    "-q",
                    "-O",
                    "-",
                    &format!("http://127.0.0.1:8080{path}"),
                ],
            );
            if !out.is_empty() {
                return out;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("httpd did not answer {path}");
    };
    assert!(get("/index.html").contains("hello"));
    exec(&c, &["sh", "-c", "sh -c 'id; uname -a'"]);
    expect_quiet(
        &agent,
        &c,
        &[WEBSHELL],
        "a static page or the entrypoint's shell",
    );

    assert!(get("/cgi-bin/run").contains("uid=0"));
    let a = expect(&agent, dir.path(), &c, WEBSHELL, |_| true);
    assert_eq!(field(&a, "proc.name"), "sh", "{a}");
    assert_eq!(field(&a, "proc.pname"), "httpd", "{a}");
    drop(c);
    agent.stop().expect("stop agent");
}

/// Signals to the agent by the syscalls other than kill: each is an alert
/// naming its syscall; a pidfd signal to another process is not.
#[test]
fn signals_to_the_agent_by_any_syscall() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("vigil-signals").expect("temp dir");
    let agent = agent(dir.path());
    let helper = actions_binary().expect("build vigil-actions");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&helper)
            .args(args)
            .output()
            .expect("run vigil-actions");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let sigcont = libc::SIGCONT.to_string();
    // The look-alike: a pidfd signal to a sleeping process of our own.
    let mut other = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    assert_eq!(
        run(&["pidfd-signal", &other.id().to_string(), &sigcont]),
        "pidfd-signal: ok"
    );
    let _ = other.kill();
    let _ = other.wait();
    let pid = agent.pid().to_string();
    for (action, syscall) in [
        ("sigqueue", "rt_sigqueueinfo"),
        ("tgsigqueue", "rt_tgsigqueueinfo"),
        ("pidfd-signal", "pidfd_send_signal"),
    ] {
        assert_eq!(run(&[action, &pid, &sigcont]), format!("{action}: ok"));
        let a = agent.wait_stdout_json(WAIT, |a| {
            s(a, "rule") == "Signal sent to vigil"
                && s(a, "output").contains(&format!("syscall={syscall} "))
        });
        assert!(
            a.is_some(),
            "no alert for {syscall}; alerts:\n{}",
            agent.stdout_lines().join("\n")
        );
    }
    let alerts = agent.stdout_json().expect("JSON lines");
    let pidfd_alerts = alerts
        .iter()
        .filter(|a| {
            s(a, "rule") == "Signal sent to vigil"
                && s(a, "output").contains("syscall=pidfd_send_signal ")
        })
        .count();
    assert_eq!(
        pidfd_alerts, 1,
        "the pidfd signal to another process alerted too"
    );
    let stopped = agent.stop().expect("stop agent");
    assert!(stopped.status.success(), "{}", stopped.status);
}
