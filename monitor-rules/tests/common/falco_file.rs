//! Where Falco's stable rule file is: `shared/falco-rules/falco_rules.yaml`
//! beside or above the checkout (the file is not part of the project). One
//! copy for every test and bench that loads it, included with `#[path]`.

use std::path::PathBuf;

const REL: &str = "shared/falco-rules/falco_rules.yaml";

/// The file, if a folder above this crate holds `shared/` (or `../shared/`).
pub fn find() -> Option<PathBuf> {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for base in [dir.clone(), dir.join("..")] {
            let p = base.join(REL);
            if p.is_file() {
                return Some(p.canonicalize().unwrap_or(p));
            }
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// The file; panics with where it was looked for (tests need it).
#[allow(dead_code)] // the bench uses `find` only
pub fn falco_rules() -> PathBuf {
    find().unwrap_or_else(|| panic!("{REL} not found in or above {}", env!("CARGO_MANIFEST_DIR")))
}
