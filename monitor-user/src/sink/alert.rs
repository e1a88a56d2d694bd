//! Alerts: what a matching rule produces, in Falco's JSON output shape, and
//! where alerts go.
//!
//! One alert is one JSON object on one line with Falco's keys:
//! `hostname`, `output`, `output_fields`, `priority`, `rule`, `source`,
//! `tags`, `time`, so falcosidekick and SIEM parsers of Falco output take it
//! unchanged. `output` is Falco's text: `HH:MM:SS.nnnnnnnnn: Priority message`.
//! `output_fields` is flat: every field the rule's output names, plus a fixed
//! set saying what, where and who ([`ALWAYS_FIELDS`]); a field without a
//! value is `null`, as in Falco. A rule with Falco's `capture: true` marks
//! its alerts with `vigil.capture` (and `vigil.capture_duration_ms`): the
//! events around them are in the flight recorder (`--record`). An alert
//! of an event the kernel refused (or, dry run, would have refused) says so
//! in `vigil.enforcement` (`denied`, `killed`, `would_deny`, `would_kill`)
//! and in `output`
//! (docs/enforcement.md); one of an act submitted through io_uring, in
//! `vigil.io_uring` and in `output`.
//!
//! One key is added to Falco's: `uuid`, the field falcosidekick itself reads
//! (and otherwise fills in), so a receiver can deduplicate an alert sent
//! twice after a retry. It is derived from the host, the event and the rule
//! ([`alert_uuid`]), so a replay of a recorded log reproduces the same ids.

use std::sync::OnceLock;

use monitor_rules::{CompiledRule, Field, FieldSource, Lookup, Value};
use serde_json::{Map, Value as Json};

use crate::detect::fields::EventFields;
use crate::event::rfc3339;

/// Fields every alert carries in `output_fields`.
pub const ALWAYS_FIELDS: &[&str] = &[
    "evt.type",
    "proc.pid",
    "proc.name",
    "proc.exepath",
    "proc.cmdline",
    "proc.pname",
    "proc.anames",
    "user.uid",
    "container.id",
    "container.full_id",
    "container.name",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "container.image.digest",
    "container.privileged",
    "container.mounts",
    "k8s.ns.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.pod.labels",
    // Why the runtime metadata above is missing, when it is.
    "container.unresolved",
];

/// Output field counting the alerts the throttle held back before this one
/// ([`crate::sink::throttle`]); present only when that is more than zero.
pub const SUPPRESSED_FIELD: &str = "vigil.suppressed";

/// Output fields of a rule with `capture: true`.
pub const CAPTURE_FIELD: &str = "vigil.capture";
pub const CAPTURE_DURATION_FIELD: &str = "vigil.capture_duration_ms";

/// Output field of an alert whose event the kernel refused: `denied`, or
/// `would_deny` in dry run.
pub const ENFORCEMENT_FIELD: &str = "vigil.enforcement";

/// Output field of an alert whose event was submitted through io_uring
/// (the sensor's `evt.arg.io_uring`): `true`.
pub const IO_URING_FIELD: &str = "vigil.io_uring";

/// The event's `evt.arg.enforcement` (set by the sensor), as a field.
fn enforcement_field() -> &'static Field {
    static F: OnceLock<Field> = OnceLock::new();
    F.get_or_init(|| arg_field("evt.arg.enforcement"))
}

/// The event's `evt.arg.io_uring` (set by the sensor), as a field.
fn io_uring_field() -> &'static Field {
    static F: OnceLock<Field> = OnceLock::new();
    F.get_or_init(|| arg_field("evt.arg.io_uring"))
}

fn arg_field(name: &str) -> Field {
    match Field::lookup(name, None) {
        Lookup::Supported(f, _) => f,
        other => panic!("{name} is not a supported field: {other:?}"),
    }
}

fn always_fields() -> &'static [(&'static str, Field)] {
    static F: OnceLock<Vec<(&'static str, Field)>> = OnceLock::new();
    F.get_or_init(|| {
        ALWAYS_FIELDS
            .iter()
            .map(|n| match Field::lookup(n, None) {
                Lookup::Supported(f, _) => (*n, f),
                other => panic!("{n} is not a supported field: {other:?}"),
            })
            .collect()
    })
}

/// Namespace of the name-based (v5) alert ids.
const UUID_NAMESPACE: uuid::Uuid = uuid::uuid!("5b1d6a2e-8f43-4c8e-9a63-2f0f6c1e9d47");

/// The id of the alert `rule` raises for the event stamped `boot_ns` and
/// `wall_ns` of thread `tid` on `hostname`: unique per alert, the same on
/// every replay of the event.
pub fn alert_uuid(hostname: &str, boot_ns: u64, wall_ns: u64, tid: u32, rule: &str) -> String {
    let name = format!("{hostname}\0{boot_ns}\0{wall_ns}\0{tid}\0{rule}");
    uuid::Uuid::new_v5(&UUID_NAMESPACE, name.as_bytes()).to_string()
}

/// One alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Unique id (UUID), Falcosidekick's `uuid` key ([`alert_uuid`]).
    pub uuid: String,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
    pub rule: String,
    /// Falco's level name (`Warning`, `Critical`, ...).
    pub priority: &'static str,
    pub output: String,
    pub output_fields: Map<String, Json>,
    pub tags: Vec<String>,
    pub hostname: String,
    pub source: &'static str,
}

fn to_json(v: Option<Value<'_>>) -> Json {
    match v {
        None => Json::Null,
        Some(Value::Str(s)) => Json::String(s.to_owned()),
        Some(Value::Num(n)) => Json::from(n),
        Some(Value::Bool(b)) => Json::Bool(b),
        Some(Value::List(l)) => Json::Array(l.iter().map(|s| Json::String(s.to_owned())).collect()),
    }
}

impl Alert {
    /// The alert `rule` raises for the event behind `fields`.
    pub fn new(rule: &CompiledRule, fields: &EventFields<'_>) -> Alert {
        let ev = fields.event();
        let time = rfc3339(ev.wall_ns);
        let mut output_fields = Map::new();
        for (name, v) in rule.output_fields(fields) {
            output_fields.insert(name.to_owned(), to_json(v));
        }
        for (name, f) in always_fields() {
            if !output_fields.contains_key(*name) {
                let v = if *name == "evt.type" {
                    Some(Value::Str(fields.evt_type()))
                } else {
                    fields.get(f)
                };
                output_fields.insert((*name).to_owned(), to_json(v));
            }
        }
        if let Some(c) = rule.capture() {
            output_fields.insert(CAPTURE_FIELD.into(), Json::Bool(true));
            if let Some(ms) = c.duration_ms {
                output_fields.insert(CAPTURE_DURATION_FIELD.into(), Json::from(ms));
            }
        }
        let priority = rule.priority().as_str();
        // Falco prefixes the text with the local time of day and the priority;
        // vigil uses UTC, like the `time` key.
        let mut output = format!(
            "{}: {priority} {}",
            &time[11..time.len() - 1],
            rule.format_output(fields)
        );
        if let Some(Value::Str(done)) = fields.get(enforcement_field()) {
            output.push_str(&format!(" (enforcement: {done})"));
            output_fields.insert(ENFORCEMENT_FIELD.into(), Json::String(done.to_owned()));
        }
        // The same rule fires whichever way the act was submitted; the
        // analyst still wants to know it bypassed the syscall.
        if matches!(fields.get(io_uring_field()), Some(Value::Num(n)) if n != 0) {
            output.push_str(" (submitted through io_uring)");
            output_fields.insert(IO_URING_FIELD.into(), Json::Bool(true));
        }
        Alert {
            uuid: alert_uuid(
                fields.hostname(),
                ev.boot_ns,
                ev.wall_ns,
                ev.process.tid,
                rule.name(),
            ),
            time,
            rule: rule.name().to_owned(),
            priority,
            output,
            output_fields,
            tags: rule.tags().to_vec(),
            hostname: fields.hostname().to_owned(),
            source: "syscall",
        }
    }

    /// Say that `n` alerts of this rule and container were held back
    /// before this one: field `vigil.suppressed` and a note in `output`.
    pub fn note_suppressed(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.output_fields
            .insert(SUPPRESSED_FIELD.into(), Json::from(n));
        self.output
            .push_str(&format!(" ({n} similar alerts suppressed)"));
    }

    /// The Falco JSON object.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("hostname".into(), self.hostname.clone().into());
        m.insert("output".into(), self.output.clone().into());
        m.insert(
            "output_fields".into(),
            Json::Object(self.output_fields.clone()),
        );
        m.insert("priority".into(), self.priority.into());
        m.insert("rule".into(), self.rule.clone().into());
        m.insert("source".into(), self.source.into());
        m.insert("tags".into(), self.tags.clone().into());
        m.insert("time".into(), self.time.clone().into());
        m.insert("uuid".into(), self.uuid.clone().into());
        Json::Object(m)
    }

    /// Append the alert as one JSON line to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, &self.to_json()).expect("in-memory JSON serialization");
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::fixtures::build_event;
    use monitor_rules::{LoadOptions, RuleSet, RuleSource};

    fn rule_set() -> RuleSet {
        let src = RuleSource::new(
            "t.yaml",
            r#"
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "shadow read by %proc.name (file=%fd.name pid=%proc.pid tag=%container.image.tag missing=%proc.vpid upper=%proc.is_exe_upper_layer)"
  priority: WARNING
  tags: [credential-access, T1003.008]
"#,
        );
        RuleSet::load(&[src], &LoadOptions::default()).unwrap().0
    }

    fn alert_for(yaml: &str) -> serde_json::Value {
        let set = rule_set();
        let ev = build_event(&crate::detect::fixtures::parse_yaml_map(yaml)).unwrap();
        let f = EventFields::new(&ev, "node-1");
        let rules: Vec<_> = set.matching(&f).collect();
        assert_eq!(rules.len(), 1);
        let mut line = Vec::new();
        Alert::new(rules[0], &f).write_line(&mut line);
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(line.last(), Some(&b'\n'));
        serde_json::from_slice(&line).unwrap()
    }

    #[test]
    fn alert_json_has_falco_shape() {
        let v = alert_for(
            "{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat, container.image: 'docker.io/library/alpine:3.20', proc.anames: [sh, conmon], proc.is_exe_upper_layer: true}",
        );
        let o = v.as_object().unwrap();
        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [
                "hostname",
                "output",
                "output_fields",
                "priority",
                "rule",
                "source",
                "tags",
                "time",
                "uuid"
            ]
        );
        assert_eq!(v["rule"], "Shadow read");
        assert_eq!(v["priority"], "Warning");
        assert!(monitor_rules::Priority::NAMES.contains(&v["priority"].as_str().unwrap()));
        assert_eq!(v["source"], "syscall");
        let id = v["uuid"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert_eq!(v["hostname"], "node-1");
        assert_eq!(
            v["tags"],
            serde_json::json!(["credential-access", "T1003.008"])
        );
        let time = v["time"].as_str().unwrap();
        assert_eq!(time.len(), "2026-11-22T06:18:23.123456789Z".len(), "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T');
        let out = v["output"].as_str().unwrap();
        assert!(
            out.starts_with(&format!(
                "{}: Warning shadow read by cat (file=/etc/shadow",
                &time[11..29]
            )),
            "{out}"
        );
        assert!(out.contains("tag=3.20 missing=<NA> upper=true"), "{out}");
        let f = v["output_fields"].as_object().unwrap();
        for k in ALWAYS_FIELDS {
            assert!(f.contains_key(*k), "{k} missing in {f:?}");
        }
        for (k, val) in f {
            assert!(!val.is_object(), "{k} is nested");
            if let Some(a) = val.as_array() {
                assert!(a.iter().all(|x| x.is_string()), "{k}");
            }
        }
        assert_eq!(f["fd.name"], "/etc/shadow");
        assert_eq!(f["evt.type"], "openat");
        assert!(f["proc.pid"].is_u64());
        assert!(f["user.uid"].is_u64());
        assert_eq!(f["proc.is_exe_upper_layer"], true);
        assert_eq!(f["container.image.tag"], "3.20");
        assert_eq!(f["proc.vpid"], serde_json::Value::Null);
        assert_eq!(f["container.name"], "web");
        assert_eq!(f["proc.anames"], serde_json::json!(["sh", "conmon"]));
        let cid = f["container.id"].as_str().unwrap();
        assert!(
            cid == "host" || (cid.len() == 12 && cid.bytes().all(|b| b.is_ascii_hexdigit())),
            "{cid}"
        );
        assert_eq!(
            f["container.full_id"].as_str().unwrap()[..12],
            *cid,
            "short id is the full id's prefix"
        );
    }

    #[test]
    fn capture_rules_mark_their_alerts() {
        let src = RuleSource::new(
            "c.yaml",
            "- rule: c\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: INFO\n  capture: true\n  capture_duration: 2500\n\
             - rule: n\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: INFO\n",
        );
        let set = RuleSet::load(&[src], &LoadOptions::default()).unwrap().0;
        let ev = build_event(&crate::detect::fixtures::parse_yaml_map(
            "{evt.type: openat, fd.name: /x, evt.arg.flags: O_RDONLY}",
        ))
        .unwrap();
        let f = EventFields::new(&ev, "h");
        let alerts: Vec<Json> = set
            .matching(&f)
            .map(|r| Alert::new(r, &f).to_json())
            .collect();
        assert_eq!(alerts[0]["output_fields"][CAPTURE_FIELD], true);
        assert_eq!(alerts[0]["output_fields"][CAPTURE_DURATION_FIELD], 2500);
        assert!(alerts[1]["output_fields"].get(CAPTURE_FIELD).is_none());
    }

    #[test]
    fn io_uring_alerts_say_so() {
        let v = alert_for("{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat, evt.arg.io_uring: 1}");
        assert_eq!(v["output_fields"][IO_URING_FIELD], true);
        let out = v["output"].as_str().unwrap();
        assert!(out.ends_with(" (submitted through io_uring)"), "{out}");
        let v = alert_for(
            "{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat}",
        );
        assert!(v["output_fields"].get(IO_URING_FIELD).is_none(), "{v}");
        assert!(!v["output"].as_str().unwrap().contains("io_uring"));
    }

    #[test]
    fn host_alerts_say_host() {
        let v = alert_for("{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY, proc.name: cat, container.id: host}");
        assert_eq!(v["output_fields"]["container.id"], "host");
        assert_eq!(
            v["output_fields"]["container.full_id"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn sink_appends_lines_to_a_file() {
        let dir = crate::testutil::TempDir::new("alertsink");
        let path = dir.path().join("alerts.json");
        std::fs::write(&path, "{\"old\":1}\n").unwrap();
        let set = rule_set();
        let ev = build_event(&crate::detect::fixtures::parse_yaml_map(
            "{evt.type: openat, fd.name: /etc/shadow, evt.arg.flags: O_RDONLY}",
        ))
        .unwrap();
        let f = EventFields::new(&ev, "h");
        let a = Alert::new(set.matching(&f).next().unwrap(), &f);
        let mut sink = crate::sink::writer::AlertSink::append_to(&path).unwrap();
        sink.write(a.clone()).unwrap();
        sink.write(a).unwrap();
        drop(sink);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        for l in &lines[1..] {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["rule"], "Shadow read");
        }
    }
}
