"""JSON Schema of lab.yaml, with each vocabulary's names and typed args spelled out.

Editors (VS Code's YAML extension, JetBrains) use it for completion and
inline errors: ``# yaml-language-server: $schema=lab.schema.json``.
"""

from __future__ import annotations

from typing import Any

from labctl.spec.models import Lab
from labctl.spec.vocabulary import Registry, Vocabulary

SCHEMA_ID = "https://labctl.dev/schema/lab-1.json"
#: A string holding a Jinja2 template: any typed argument may take one (docs/lab-format.md,
#: "Parameters in arguments"); labctl renders it and checks the result's type.
TEMPLATE: dict[str, Any] = {"type": "string", "pattern": r"\{\{|\{%"}


def lab_json_schema(vocab: Vocabulary) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) for lab.yaml under ``vocab``."""
    schema = Lab.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    _specialise(defs, "CheckRef", "name", vocab.checks)
    _specialise(defs, "InjectRef", "kind", vocab.injects)
    _specialise(defs, "AdversaryStep", "action", vocab.actions)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def _specialise(defs: dict[str, Any], def_name: str, key: str, registry: Registry) -> None:
    """Replace ``def_name`` by a union: one branch per registered name, args typed."""
    generic = defs[def_name]
    branches = []
    for entry in registry:
        args_schema = entry.args.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(args_schema.pop("$defs", {}))
        args_schema["properties"] = {
            name: _or_template(prop) for name, prop in args_schema.get("properties", {}).items()
        }
        defs_name = f"{def_name}_{entry.name}"
        properties = dict(generic["properties"])
        properties[key] = {"const": entry.name, "description": entry.summary}
        properties["args"] = args_schema
        branch = {**generic, "properties": properties, "title": f"{registry.kind}: {entry.name}"}
        defs[defs_name] = branch
        branches.append({"$ref": f"#/$defs/{defs_name}"})
    if branches:
        defs[def_name] = {"oneOf": branches, "description": generic.get("description", "")}


def _or_template(prop: dict[str, Any]) -> dict[str, Any]:
    """``prop``, or a template string where ``prop`` constrains a value a template could
    stand for (a type other than plain text, a pattern, a bound)."""
    constrained = prop.get("type") not in (None, "string") or any(
        key in prop for key in ("pattern", "anyOf", "enum", "const", "maxLength", "minLength")
    )
    if not constrained:
        return prop
    keep = {k: v for k, v in prop.items() if k in ("title", "description", "default")}
    inner = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
    return {**keep, "anyOf": [inner, TEMPLATE]}
