#!/usr/bin/env bash
# docs/lab.schema.json: the examples of docs/LABS.md are valid against it, and
# files with an unknown key, a bad cable or a bad kind are not
# (python3-jsonschema, python3-yaml).
set -euo pipefail
R="${TEST_SRCDIR:-.}/cloonix"
python3 - "$R/docs/lab.schema.json" "$R/docs/LABS.md" <<'PY'
import json, re, sys
import jsonschema, yaml
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
examples = re.findall(r"```yaml\n(.*?)```", open(sys.argv[2]).read(), re.S)
assert len(examples) >= 2, "LABS.md lost its examples"
for example in examples:
    errors = list(v.iter_errors(yaml.safe_load(example)))
    assert not errors, [e.message for e in errors]
bad = {
    "unknown top-level key": "itemz: {}",
    "unknown item key": "items: {c1: {kind: cnt, colour: red}}",
    "bad kind": "items: {c1: {kind: router}}",
    "bad cable": "cables: ['c1 eth0 lan1']",
    "bad name": "items: {1Bad/One: {kind: nat}}",
    "a2b key": "items: {a: {kind: a2b, dir0: {delai: 3}}}",
    "c2c without peer_net": "items: {x: {kind: c2c}}",
    "host without creds": "hosts: {west: {address: '10.0.0.2:7000'}}",
}
failed = []
for what, text in bad.items():
    if not list(v.iter_errors(yaml.safe_load(text))):
        failed.append(what)
assert not failed, "accepted: %s" % failed
print("schema: %d examples valid, %d bad files refused" % (len(examples), len(bad)))
PY
