//! OCSF for events (`--events-format ocsf`): each event of the `--events`
//! output as an OCSF event of schema [`super::ocsf::OCSF_VERSION`], for
//! data lakes that store activity beside the findings.
//!
//! execs, forks and exits are Process Activity (1007: Launch, Terminate);
//! opens, creates and unlinks File System Activity (1001: Open, Create,
//! Delete); network events Network Activity (4001: connect and accept
//! Open, a failed connect Refuse, listen Listen, a UDP flow's first
//! datagram Traffic; the server as `dst_endpoint`, or a unix socket's path
//! as its name, the client as `src_endpoint`); DNS messages DNS Activity
//! (4003: a query Query, an answer Response, with `query`, `answers` and
//! `rcode`). Every other event (mounts, setns, bpf, ptrace, cgroup and
//! resource samples, ...) is an OCSF Base Event (class 0), so none is left
//! out. The process, container and device (the host writing the events)
//! objects are built as for the findings; the event's own flat fields
//! (docs/events.md) are kept whole under `unmapped`.

use serde_json::{json, Map, Value as Json};

use super::ocsf::{container, epoch_ms, file, process, OCSF_VERSION};
use crate::event::Event;

/// Class, its name, category, category name, activity id and name.
type Class = (u64, &'static str, u64, &'static str, u64, &'static str);

const BASE: Class = (0, "Base Event", 0, "Uncategorized", 99, "Other");

fn class(f: &Map<String, Json>) -> Class {
    let t = f.get("evt.type").and_then(Json::as_str).unwrap_or("");
    let failed = f.get("evt.failed").and_then(Json::as_bool) == Some(true);
    let process = |id, name| (1007, "Process Activity", 1, "System Activity", id, name);
    let fs = |id, name| (1001, "File System Activity", 1, "System Activity", id, name);
    match t {
        "execve" | "execveat" | "clone" | "clone3" | "fork" | "vfork" => process(1, "Launch"),
        "procexit" => process(2, "Terminate"),
        "creat" => fs(1, "Create"),
        "open" | "openat" | "openat2" => fs(14, "Open"),
        "unlink" | "unlinkat" => fs(4, "Delete"),
        "connect" if failed => (4001, "Network Activity", 4, "Network Activity", 5, "Refuse"),
        "connect" | "accept" | "accept4" => {
            (4001, "Network Activity", 4, "Network Activity", 1, "Open")
        }
        "listen" => (4001, "Network Activity", 4, "Network Activity", 7, "Listen"),
        "sendto" | "sendmsg" | "sendmmsg" => (
            4001,
            "Network Activity",
            4,
            "Network Activity",
            6,
            "Traffic",
        ),
        "dns" if f.get("dns.is_response").and_then(Json::as_bool) == Some(true) => {
            (4003, "DNS Activity", 4, "Network Activity", 2, "Response")
        }
        "dns" => (4003, "DNS Activity", 4, "Network Activity", 1, "Query"),
        _ => BASE,
    }
}

/// OCSF's `rcode_id` of a DNS response code (RFC 1035 numbering).
fn rcode_id(rcode: &str) -> u64 {
    match rcode {
        "NOERROR" => 0,
        "FORMERR" => 1,
        "SERVFAIL" => 2,
        "NXDOMAIN" => 3,
        "NOTIMP" => 4,
        "REFUSED" => 5,
        _ => 99,
    }
}

/// DNS Activity's `query`, `answers`, `rcode` and resolver.
fn dns(o: &mut Json, f: &Map<String, Json>) {
    let text = |k: &str| f.get(k).and_then(Json::as_str).unwrap_or("");
    o["query"] = json!({ "hostname": text("dns.name"), "type": text("dns.type"), "class": "IN" });
    if let Some(id) = f.get("dns.id") {
        o["query"]["packet_uid"] = id.clone();
    }
    if let Some(r) = f.get("dns.rcode").and_then(Json::as_str) {
        o["rcode"] = json!(r);
        o["rcode_id"] = json!(rcode_id(r));
    }
    if let Some(Json::Array(a)) = f.get("dns.answers") {
        let answers: Vec<Json> = a
            .iter()
            .map(|x| json!({ "rdata": x["data"], "type": x["type"], "ttl": x["ttl"], "class": "IN" }))
            .collect();
        o["answers"] = json!(answers);
    }
    if let Some(ep) = endpoint(f) {
        o["dst_endpoint"] = ep;
    }
}

/// This host's name (the device writing the events), looked up once.
fn hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(crate::detect::hostname)
}

/// The event as an OCSF event.
pub fn event(ev: &Event) -> Json {
    let flat = crate::sink::events::to_value(ev);
    let f = flat.as_object().cloned().unwrap_or_default();
    let (class_uid, class_name, category_uid, category_name, activity_id, activity_name) =
        class(&f);
    let host = hostname();
    let time = f.get("time").and_then(Json::as_str).map_or(0, epoch_ms);
    let container = container(&f);
    let process = process(&f, container.as_ref());
    let mut o = json!({
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": format!("{class_name}: {activity_name}"),
        "time": time,
        "severity_id": 1,
        "severity": "Informational",
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["host", "container"],
            "product": {
                "name": "vigil",
                "vendor_name": "vigil",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "event_code": f.get("evt.type").cloned().unwrap_or(Json::Null),
            "original_time": f.get("time").cloned().unwrap_or(Json::Null),
        },
        "device": { "type_id": 1, "type": "Server", "hostname": host, "name": host },
        "unmapped": flat,
    });
    if let Some(p) = &process {
        o["actor"] = json!({ "process": p });
    }
    if failed(&f) {
        o["status_id"] = json!(2);
        o["status"] = json!("Failure");
        o["status_code"] = f.get("evt.res").cloned().unwrap_or(Json::Null);
    } else {
        o["status_id"] = json!(1);
        o["status"] = json!("Success");
    }
    match class_uid {
        1007 => {
            if let Some(p) = process {
                o["process"] = p;
            }
        }
        1001 => match file(&f) {
            Some(file) => o["file"] = file,
            // A file event without a path: kept, as a Base Event.
            None => return demote(o),
        },
        4001 => match endpoint(&f) {
            Some(ep) => {
                o["dst_endpoint"] = ep;
                if let Some(src) = client(&f) {
                    o["src_endpoint"] = src;
                }
            }
            None => return demote(o),
        },
        4003 => dns(&mut o, &f),
        _ => {}
    }
    // Process Activity needs an actor and a process, both from the pid.
    if class_uid == 1007 && o.get("process").is_none() {
        return demote(o);
    }
    if class_uid == 0 {
        o.as_object_mut().map(|m| m.remove("actor"));
    }
    o
}

fn failed(f: &Map<String, Json>) -> bool {
    f.get("evt.failed").and_then(Json::as_bool) == Some(true)
}

/// The peer of a connect: its address and port (`fd.sip`, `fd.sport`),
/// or a unix socket's path (`fd.name`) as the endpoint's name.
fn endpoint(f: &Map<String, Json>) -> Option<Json> {
    if let Some(ip) = f.get("fd.sip").and_then(Json::as_str) {
        let mut ep = json!({ "ip": ip });
        if let Some(port) = f.get("fd.sport").and_then(Json::as_u64) {
            ep["port"] = port.into();
        }
        return Some(ep);
    }
    let name = f.get("fd.name").and_then(Json::as_str)?;
    Some(json!({ "name": name }))
}

/// The initiating end of an IP socket (`fd.cip`, `fd.cport`), when known.
fn client(f: &Map<String, Json>) -> Option<Json> {
    let ip = f.get("fd.cip").and_then(Json::as_str)?;
    let mut ep = json!({ "ip": ip });
    if let Some(port) = f.get("fd.cport").and_then(Json::as_u64) {
        ep["port"] = port.into();
    }
    Some(ep)
}

/// `o` as a Base Event: its class's own objects are dropped (they stay in
/// `unmapped`).
fn demote(mut o: Json) -> Json {
    let (class_uid, class_name, category_uid, category_name, activity_id, activity_name) = BASE;
    if let Some(m) = o.as_object_mut() {
        for k in ["actor", "process", "file", "dst_endpoint"] {
            m.remove(k);
        }
    }
    o["class_uid"] = class_uid.into();
    o["class_name"] = class_name.into();
    o["category_uid"] = category_uid.into();
    o["category_name"] = category_name.into();
    o["activity_id"] = activity_id.into();
    o["activity_name"] = activity_name.into();
    o["type_uid"] = (class_uid * 100 + activity_id).into();
    o["type_name"] = format!("{class_name}: {activity_name}").into();
    o
}

/// Appends the event's OCSF JSON and a line end to `out`.
pub fn write_line(ev: &Event, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, &event(ev)).expect("in-memory JSON serialization");
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::{build_event, parse_yaml, parse_yaml_map};

    fn ev(yaml: &str) -> Json {
        event(&build_event(&parse_yaml_map(yaml)).unwrap())
    }

    #[test]
    fn classes_and_activities() {
        let e = ev("{evt.type: execve, proc.name: sh}");
        assert_eq!(
            (e["class_uid"].clone(), e["activity_id"].clone()),
            (json!(1007), json!(1))
        );
        assert_eq!(e["process"]["name"], "sh");
        let e = ev("{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY}");
        assert_eq!(
            (e["class_uid"].clone(), e["type_uid"].clone()),
            (json!(1001), json!(100114))
        );
        assert_eq!(e["file"]["path"], "/etc/shadow");
        let e = ev("{evt.type: mount, evt.arg.dev: proc, evt.arg.dir: /mnt, evt.arg.type: proc}");
        assert_eq!(
            (e["class_uid"].clone(), e["type_uid"].clone()),
            (json!(0), json!(99))
        );
        assert_eq!(e["unmapped"]["evt.type"], "mount");
    }

    #[test]
    fn dns_answers_are_dns_activity_responses() {
        let evs = crate::sink::recorder::tests::events();
        let d = evs
            .iter()
            .find(|e| matches!(e.data, crate::event::Data::Dns(_)))
            .expect("a dns event");
        let e = event(d);
        assert_eq!(
            (e["class_uid"].clone(), e["activity_id"].clone()),
            (json!(4003), json!(2))
        );
        assert_eq!(e["query"]["hostname"], "cache.example.com");
        assert_eq!(e["query"]["type"], "A");
        assert_eq!(e["answers"][0]["rdata"], "127.0.0.1");
        assert_eq!(e["answers"][0]["ttl"], 300);
        assert_eq!(
            (e["rcode"].clone(), e["rcode_id"].clone()),
            (json!("NOERROR"), json!(0))
        );
        assert_eq!(e["dst_endpoint"]["port"], 53);
    }

    /// Every fixture event of the default rules (matches and near misses:
    /// execs, opens, connects, mounts, ...) validates against the published
    /// OCSF schema (offline, `ocsf-json-schema`).
    #[test]
    fn every_fixture_event_is_valid_ocsf() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/fixtures");
        let mut lines = String::new();
        let mut n = 0;
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for p in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        {
            let doc = parse_yaml(&std::fs::read_to_string(p).unwrap()).unwrap();
            for item in doc.as_array().unwrap() {
                for key in ["match", "no_match"] {
                    for e in item[key].as_array().cloned().unwrap_or_default() {
                        let m = e.as_object().unwrap().clone().into_iter().collect();
                        lines.push_str(&event(&build_event(&m).unwrap()).to_string());
                        lines.push('\n');
                        n += 1;
                    }
                }
            }
        }
        assert!(n >= 40, "{n} fixture events");
        let classes: std::collections::BTreeSet<u64> = lines
            .lines()
            .map(|l| {
                serde_json::from_str::<Json>(l).unwrap()["class_uid"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            classes.into_iter().collect::<Vec<_>>(),
            [0, 1001, 1007, 4001]
        );
        super::super::ocsf::tests::validate(&lines, n);
    }
}
