#!/usr/bin/env python3
"""Validate OCSF JSON lines against the published OCSF schema, offline.

Usage: validate.py FILE.jsonl

Each line is an OCSF event; its class comes from `class_uid`, its schema
version from `metadata.version`, its profiles from `metadata.profiles`. The
schema is the one the PyPI package `ocsf-json-schema` ships (the OCSF
project's schema exports, turned into JSON Schema 2020-12), checked with
`jsonschema`. Exit 0 when every line is valid, 1 when one is not, 3 when
the packages are missing (run `cargo xtask setup`).
"""
import json
import sys

try:
    import jsonschema
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
except ImportError as e:
    print(f"missing Python package: {e} (cargo xtask setup installs it)", file=sys.stderr)
    sys.exit(3)


def main(path):
    schemas = {}
    bad = 0
    n = 0
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            n += 1
            event = json.loads(line)
            version = event["metadata"]["version"]
            profiles = tuple(sorted(event["metadata"].get("profiles", [])))
            key = (version, event["class_uid"], profiles)
            if key not in schemas:
                ocsf = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))
                name = ocsf.lookup_class_name_from_uid(class_uid=event["class_uid"])
                schema = ocsf.get_class_schema(name, list(profiles))
                schemas[key] = jsonschema.Draft202012Validator(schema)
            errors = sorted(schemas[key].iter_errors(event), key=lambda e: list(e.path))
            for e in errors:
                where = "/".join(str(p) for p in e.path) or "(root)"
                print(f"{path}:{lineno}: {where}: {e.message}")
            bad += bool(errors)
    print(f"{n} events, {n - bad} valid, {bad} invalid")
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
