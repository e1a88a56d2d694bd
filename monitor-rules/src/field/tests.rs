use super::*;

#[test]
fn lookups() {
    assert!(matches!(
        Field::lookup("proc.aname", Some("2")),
        Lookup::Supported(
            Field {
                id: FieldId::ProcAname,
                arg: FieldArg::Index(2)
            },
            FieldType::Str
        )
    ));
    assert!(matches!(
        Field::lookup("proc.aname", None),
        Lookup::Supported(_, FieldType::StrList)
    ));
    match Field::lookup("evt.arg.flags", None) {
        Lookup::Supported(f, FieldType::Dyn) => assert_eq!(f.name(), "evt.arg.flags"),
        other => panic!("{other:?}"),
    }
    match Field::lookup("evt.rawarg.flags", None) {
        Lookup::Supported(f, FieldType::Dyn) => {
            assert_eq!(f.id, FieldId::EvtRawarg);
            assert_eq!(f.name(), "evt.rawarg.flags")
        }
        other => panic!("{other:?}"),
    }
    match Field::lookup("evt.arg", Some("1")) {
        Lookup::Supported(f, _) => assert_eq!(f.name(), "evt.arg[1]"),
        other => panic!("{other:?}"),
    }
    assert_eq!(Field::lookup("evt.pluginname", None), Lookup::Unsupported);
    assert_eq!(Field::lookup("k8s.rc.name", None), Lookup::Unsupported);
    assert!(matches!(
        Field::lookup("proc.nmae", None),
        Lookup::Unknown(_)
    ));
    assert!(matches!(
        Field::lookup("proc.aname", Some("x")),
        Lookup::Unknown(_)
    ));
    assert!(matches!(
        Field::lookup("proc.name", Some("1")),
        Lookup::Unknown(_)
    ));
    match Field::lookup("container.runtime", None) {
        Lookup::Supported(f, _) => assert_eq!(f.name(), "container.type"),
        other => panic!("{other:?}"),
    }
}
