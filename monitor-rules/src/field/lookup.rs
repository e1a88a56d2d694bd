//! Looking a field up in the catalog: a name and its `[argument]` text
//! become a [`Field`] with its type, or say why not (a Falco field vigil
//! does not supply, or a name nobody knows); and back, a field's canonical
//! name.

use super::unsupported::{FALCO_ONLY, FALCO_ONLY_PREFIXES};
use super::{resource, ArgSpec, Field, FieldArg, FieldDef, FieldId, FieldType, Lookup, FIELDS};

impl Field {
    pub const fn new(id: FieldId) -> Field {
        Field {
            id,
            arg: FieldArg::None,
        }
    }

    /// The canonical name with its argument (`proc.aname[2]`, `evt.arg.flags`).
    pub fn name(&self) -> String {
        if let (FieldId::Resource, FieldArg::Name(n)) = (self.id, &self.arg) {
            return n.to_string();
        }
        let base = canonical(self.id);
        match &self.arg {
            FieldArg::None => base.to_owned(),
            FieldArg::Index(i) => format!("{base}[{i}]"),
            FieldArg::Name(n) => format!("{base}.{n}"),
        }
    }

    /// The field's value type.
    pub fn ty(&self) -> FieldType {
        let def = FIELDS
            .iter()
            .find(|d| d.id == self.id)
            .expect("every id has a row");
        if matches!(
            self.id,
            FieldId::ProcAname | FieldId::ProcAenv | FieldId::ProcAexepath | FieldId::ProcAexe
        ) && self.arg == FieldArg::None
        {
            return FieldType::StrList;
        }
        def.ty
    }

    /// Look a field up by name and optional `[arg]` text.
    pub fn lookup(name: &str, arg: Option<&str>) -> Lookup {
        if name == "vigil.resource" {
            return Lookup::Unknown(format!("unknown field '{name}'"));
        }
        if let Some(l) = resource::lookup(name, arg) {
            return l;
        }
        if let Some(def) = FIELDS.iter().find(|d| d.name == name) {
            return resolve(def, arg);
        }
        // `evt.arg.NAME`, `evt.rawarg.NAME`: the argument is the name's suffix.
        let keyed = [
            ("evt.arg.", FieldId::EvtArg),
            ("evt.rawarg.", FieldId::EvtRawarg),
        ]
        .into_iter()
        .find_map(|(p, id)| name.strip_prefix(p).map(|k| (k, id)));
        if let Some((key, id)) = keyed {
            if arg.is_some() {
                return Lookup::Unknown(format!("field '{name}' takes no [argument]"));
            }
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Lookup::Unknown(format!("'{key}' is not a valid argument name"));
            }
            return Lookup::Supported(
                Field {
                    id,
                    arg: FieldArg::Name(key.into()),
                },
                FieldType::Dyn,
            );
        }
        if FALCO_ONLY.contains(&name) || FALCO_ONLY_PREFIXES.iter().any(|p| name.starts_with(p)) {
            return Lookup::Unsupported;
        }
        Lookup::Unknown(format!("unknown field '{name}'"))
    }

    /// Names of every supported field, for documentation and listings.
    pub fn supported_names() -> impl Iterator<Item = &'static str> {
        FIELDS
            .iter()
            .map(|d| d.name)
            .filter(|n| *n != "vigil.resource")
    }
}

fn canonical(id: FieldId) -> &'static str {
    FIELDS
        .iter()
        .find(|d| d.id == id)
        .map(|d| d.name)
        .expect("every id has a row")
}

fn resolve(def: &FieldDef, arg: Option<&str>) -> Lookup {
    let field = |arg| {
        let f = Field { id: def.id, arg };
        let ty = f.ty();
        Lookup::Supported(f, ty)
    };
    match (def.arg, arg) {
        (ArgSpec::None, None) => field(FieldArg::None),
        (ArgSpec::None, Some(_)) => {
            Lookup::Unknown(format!("field '{}' takes no [argument]", def.name))
        }
        (ArgSpec::OptIndex, None) => field(FieldArg::None),
        (ArgSpec::OptIndex, Some(a)) => match a.trim().parse::<u32>() {
            Ok(i) => field(FieldArg::Index(i)),
            Err(_) => Lookup::Unknown(format!(
                "field '{}' needs a numeric [index], not '{a}'",
                def.name
            )),
        },
        (ArgSpec::Text, None) => Lookup::Unknown(format!(
            "field '{}' needs an argument: '{0}[KEY]' or '{0}[N]'",
            def.name
        )),
        (ArgSpec::OptText, None) => field(FieldArg::None),
        (ArgSpec::Text | ArgSpec::OptText, Some(a)) => match a.trim() {
            "" => Lookup::Unknown(format!("field '{}' has an empty [argument]", def.name)),
            a => match a.parse::<u32>() {
                Ok(i) => field(FieldArg::Index(i)),
                Err(_) => field(FieldArg::Name(a.into())),
            },
        },
        (ArgSpec::Key, None) => Lookup::Unknown(format!(
            "field '{}' needs an argument: '{0}.NAME' or '{0}[N]'",
            def.name
        )),
        (ArgSpec::Key, Some(a)) => {
            let a = a.trim();
            match a.parse::<u32>() {
                Ok(i) => field(FieldArg::Index(i)),
                Err(_)
                    if !a.is_empty()
                        && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    field(FieldArg::Name(a.into()))
                }
                Err(_) => {
                    Lookup::Unknown(format!("'{a}' is not a valid argument of '{}'", def.name))
                }
            }
        }
    }
}
