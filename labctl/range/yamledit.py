"""Set one dotted key in a YAML document, keeping its comments where possible.

The hosts' configuration files are what students read and harden, and their comments
explain every key. When the key already holds a scalar on its own line, only that value
is replaced; otherwise (a new key, a nested value) the document is written again from
its data, which drops the comments. Either way the result is parsed back and compared
with the intended data, so an edit can never produce a different document than asked.

As a program it is an editor for ``sudoedit`` (which hands it a copy of the file, as the
last argument): ``SUDO_EDITOR="python3 -m labctl.range.yamledit uplink.bypass=false"
sudoedit /etc/labctl/ground-station.yaml``. Each ``KEY=VALUE`` is set in order; a value is
read as YAML (``true``, ``64``, ``none``, ``[a, b]``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

from labctl.errors import LabctlError

_KEY_LINE: Final = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<rest>.*)$")
_VALUE: Final = re.compile(r"^(?P<space>\s+)(?P<value>[^#\s][^#]*?)(?P<tail>\s+#.*)?$")
#: libyaml's parser when PyYAML has it (a tenth of the CPU: a class's set-up edits hundreds
#: of files), the same safe schema either way.
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigEditError(LabctlError):
    """The file is not a YAML mapping, or the key runs through a non-mapping value."""


def load_mapping(text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_LOADER) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigEditError(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigEditError("not a YAML mapping")
    return data


def get_dotted(data: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of ``a.b.c`` in nested mappings."""
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping):
            return False, None
        match = [k for k in node if str(k) == part]
        if not match:
            return False, None
        node = node[match[0]]
    return True, node


def set_dotted(text: str, key: str, value: Any) -> tuple[str, bool]:
    """(new text, changed): ``text`` with ``key`` set to ``value``, mappings created."""
    data = load_mapping(text)
    found, old = get_dotted(data, key)
    if found and old == value and type(old) is type(value):
        return text, False
    wanted = _with_value(data, key.split("."), value)
    edited = _edit_line(text, key.split("."), value) or _appended(text, data, wanted, key)
    if edited is not None and load_mapping(edited) == wanted:
        return edited, True
    return yaml.safe_dump(wanted, sort_keys=False, allow_unicode=True), True


def _with_value(data: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    node = result = copy.deepcopy(data)
    for i, part in enumerate(parts[:-1]):
        existing = next((k for k in node if str(k) == part), part)
        child = node.setdefault(existing, {})
        if child is None:
            child = node[existing] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise ConfigEditError(f"{where} holds {type(child).__name__}, not a mapping")
        node = child
    last = next((k for k in node if str(k) == parts[-1]), parts[-1])
    node[last] = value
    return dict(result)


def _edit_line(text: str, parts: list[str], value: Any) -> str | None:
    """Replace the scalar of ``parts`` on its own line, or None when it is not there."""
    lines = text.splitlines(keepends=True)
    path: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        match = _KEY_LINE.match(line.rstrip("\n"))
        if match is None:
            continue
        indent = len(match["indent"])
        path = [*(p for p in path if p[0] < indent), (indent, match["key"])]
        if [k for _, k in path] == parts:
            return _replaced(lines, number, match, value)
    return None


def _appended(text: str, data: dict[str, Any], wanted: dict[str, Any], key: str) -> str | None:
    """A new top-level key goes at the end of the file, the rest left as it was."""
    top = key.split(".", maxsplit=1)[0]
    if any(str(k) == top for k in data):
        return None
    addition = yaml.safe_dump({top: wanted[top]}, sort_keys=False, allow_unicode=True)
    separator = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{separator}{addition}"


def _replaced(lines: list[str], number: int, match: re.Match[str], value: Any) -> str | None:
    rest = _VALUE.match(match["rest"])
    if rest is None or rest["value"].startswith(("|", ">", "&", "*", "!")):
        return None
    scalar = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    scalar = scalar.removesuffix("...").strip()
    if "\n" in scalar:
        return None
    newline = "\n" if lines[number].endswith("\n") else ""
    head = f"{match['indent']}{match['key']}:{rest['space']}"
    lines[number] = f"{head}{scalar}{rest['tail'] or ''}{newline}"
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m labctl.range.yamledit KEY=VALUE... FILE``: edit FILE in place."""
    import sys
    from pathlib import Path

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or any("=" not in a for a in args[:-1]):
        print("usage: python3 -m labctl.range.yamledit KEY=VALUE... FILE", file=sys.stderr)
        return 2
    path = Path(args[-1])
    try:
        text = path.read_text(encoding="utf-8")
        for pair in args[:-1]:
            key, _, raw = pair.partition("=")
            value = yaml.load(raw, Loader=_LOADER) if raw else ""
            text, changed = set_dotted(text, key, value)
            print(f"{key}: {value!r} ({'changed' if changed else 'already so'})")
    except (OSError, ConfigEditError, yaml.YAMLError) as exc:
        print(f"yamledit: {path}: {exc}", file=sys.stderr)
        return 1
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
