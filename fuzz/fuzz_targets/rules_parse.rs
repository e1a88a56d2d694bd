//! Arbitrary bytes into the rule loader: it must return a rule set or a
//! typed error, never panic. When a set loads, matching and formatting run
//! over a small event so the compiled matcher is exercised too; the text is
//! also compiled as a standalone condition.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monitor_rules::{Field, FieldId, FieldSource, LoadOptions, RuleSet, RuleSource, StrList, Value};

struct Ev;

static ANC: [&str; 2] = ["sh", "init"];

impl FieldSource for Ev {
    fn get(&self, f: &Field) -> Option<Value<'_>> {
        Some(match f.id {
            FieldId::ProcName => Value::Str("bash"),
            FieldId::ProcPid => Value::Num(7),
            FieldId::ProcAname | FieldId::ProcAnames => Value::List(StrList::Strs(&ANC)),
            FieldId::FdName => Value::Str("/etc/shadow"),
            FieldId::EvtFailed => Value::Bool(false),
            FieldId::EvtArg => Value::Str("O_RDONLY"),
            FieldId::FdNameraw => Value::Str("/srv/../etc/shadow"),
            FieldId::FdSnet | FieldId::FdNet | FieldId::FdSip => Value::Str("10.1.2.3"),
            FieldId::FdRnet => Value::Str("fd00::1"),
            FieldId::ThreadCapEffective => Value::Str("CAP_CHOWN CAP_SYS_ADMIN"),
            FieldId::ProcDuration => Value::Num(6_000_000_000),
            _ => return None,
        })
    }
    fn evt_type(&self) -> &str {
        "openat"
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = RuleSource::from_bytes("fuzz.yaml", data) else {
        return;
    };
    // The same text as a standalone condition.
    if let Ok(f) = monitor_rules::Filter::compile(&src.text) {
        let _ = f.matches(&Ev);
    }
    for strict in [false, true] {
        match RuleSet::load(std::slice::from_ref(&src), &LoadOptions {
            strict,
            ..LoadOptions::default()
        }) {
            Ok((set, report)) => {
                let _ = report.summary();
                for r in set.matching(&Ev) {
                    let _ = r.format_output(&Ev);
                }
                let _ = monitor_rules::list(&set, &report);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
