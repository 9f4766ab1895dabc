"""Bundle the OpenAPI documents in specs/ into rosetta_node/openapi.json (served at /openapi.json).

One document for every route we serve: the Rosetta document as the base; the other documents'
paths are added, and their components are renamed with the document's name as a prefix
(``Error`` in sequence.yaml becomes ``Sequence_Error``) so that equal names never collide.
Run it after editing a spec: ``.venv/bin/python scripts/build_openapi.py``; a test fails
while the bundled file is out of date. (A build step, not a runtime one: the node itself
does not need a YAML parser.)
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
BUNDLE = ROOT / "rosetta_node" / "openapi.json"
BASE = "rosetta.yaml"


def _rename_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, kind, name = value.split("/", 3)
                value = f"#/components/{kind}/{prefix}{name}"
            out[key] = _rename_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, prefix) for item in node]
    return node


def bundle(specs: Path = SPECS) -> dict[str, Any]:
    base: dict[str, Any] = copy.deepcopy(yaml.safe_load((specs / BASE).read_text()))
    base["info"] = {
        **base.get("info", {}),
        "title": "rosetta-node",
        "description": "Every route rosetta-node serves: the Rosetta (Mesh) Data API, the Sequence"
        " Indexer Gateway and Chainbase Web3 API translator routes, and the operator routes."
        " Bundled from the documents in specs/.",
    }
    tags = list(base.get("tags", []))
    for path in sorted(specs.glob("*.yaml")):
        if path.name == BASE:
            continue
        doc = yaml.safe_load(path.read_text())
        prefix = path.stem.capitalize() + "_"
        doc = _rename_refs(doc, prefix)
        for route, item in doc.get("paths", {}).items():
            if route in base["paths"]:
                raise SystemExit(f"{path.name}: path {route} is already defined")
            base["paths"][route] = item
        for kind, entries in doc.get("components", {}).items():
            target = base.setdefault("components", {}).setdefault(kind, {})
            for name, value in entries.items():
                target[prefix + name] = value
        tags.extend(t for t in doc.get("tags", []) if t not in tags)
    if tags:
        base["tags"] = tags
    return base


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main() -> int:
    BUNDLE.write_text(render(bundle()))
    print(f"wrote {BUNDLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
