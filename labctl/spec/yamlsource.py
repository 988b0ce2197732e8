"""Read YAML into plain data while remembering where every value came from.

PyYAML's safe loader forgets positions once it builds Python objects, so we
compose the node graph ourselves and build the data from it, recording the
line and column of every mapping key and value. Duplicate keys, unsupported
tags and alias bombs are reported as :class:`~labctl.errors.SpecProblem`,
all of them, rather than raised one at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from labctl.errors import SpecProblem

#: Paths are tuples of mapping keys (str) and sequence indexes (int).
Path_ = tuple[str | int, ...]

MAX_FILE_BYTES: Final = 1 << 20
#: Built values, aliases included; stops "billion laughs" documents.
MAX_NODES: Final = 200_000


@dataclass(frozen=True)
class Position:
    line: int
    column: int


@dataclass
class YamlDocument:
    """Plain data plus the source position of every key and value in it."""

    file: str
    data: Any
    values: dict[Path_, Position] = field(default_factory=dict)
    keys: dict[Path_, Position] = field(default_factory=dict)

    def position(self, path: Path_, *, at_key: bool = False) -> Position:
        """Where ``path`` (or its nearest existing ancestor) starts in the file."""
        table = self.keys if at_key else self.values
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def problem(self, path: Path_, message: str, *, at_key: bool = False) -> SpecProblem:
        pos = self.position(path, at_key=at_key)
        return SpecProblem(self.file, pos.line, pos.column, format_path(path), message)


def format_path(path: Path_) -> str:
    """``("objectives", 2, "check")`` → ``objectives[2].check``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """A safe loader whose booleans are YAML 1.2's: only true and false.

    YAML 1.1 also reads yes/no/on/off as booleans, which turns the key ``on:``
    of an adversary step into ``True`` and Norway's country code into false.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class _Builder:
    def __init__(self, doc: YamlDocument, loader: _Loader) -> None:
        self.doc = doc
        self.loader = loader
        self.problems: list[SpecProblem] = []
        self.nodes = 0

    def build(self, node: Node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge
        self.doc.values[path] = _pos(node)
        if isinstance(node, MappingNode | SequenceNode) and node.tag not in _COLLECTION_TAGS:
            self._add(node, path, f"unsupported YAML tag {node.tag!r}")
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path_) -> dict[Any, Any]:
        explicit = sum(1 for k, _ in node.value if k.tag != MERGE_TAG)
        self.loader.flatten_mapping(node)  # resolves "<<" merge keys: merged pairs first
        merged = len(node.value) - explicit
        out: dict[Any, Any] = {}
        from_merge: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self._scalar(key_node, path) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str | int | bool | float) or key is None:
                self._add(key_node, path, "mapping keys must be plain scalars")
                continue
            key = str(key) if not isinstance(key, str) else key
            if index < merged:
                from_merge.add(key)  # among merged mappings the later pair wins (PyYAML's order)
            elif key in from_merge:
                from_merge.discard(key)  # a key written here overrides the merged one
            elif key in out:
                first = self.doc.keys[(*path, key)]
                self._add(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r} (first defined at line {first.line})",
                )
                continue
            self.doc.keys[(*path, key)] = _pos(key_node)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _scalar(self, node: Node, path: Path_) -> Any:
        if node.tag not in self.loader.yaml_constructors or node.tag is None:
            self._add(node, path, f"unsupported YAML tag {node.tag!r}")
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._add(node, path, f"bad value: {getattr(exc, 'problem', exc)}")
            return None

    def _add(self, node: Node, path: Path_, message: str) -> None:
        pos = _pos(node)
        self.problems.append(
            SpecProblem(self.doc.file, pos.line, pos.column, format_path(path), message)
        )


_COLLECTION_TAGS: Final = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class _TooLarge(Exception):
    pass


def _pos(node: Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


def read_yaml(path: Path, display: str | None = None) -> tuple[YamlDocument, list[SpecProblem]]:
    """Parse ``path``; return the document and every problem found while reading it.

    On a fatal problem (unreadable, not UTF-8, syntax error) the document's
    data is ``None`` and the problem list explains why.
    """
    name = display or str(path)
    doc = YamlDocument(file=name, data=None)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return doc, [SpecProblem(name, 1, 1, "", f"cannot read file: {exc.strerror or exc}")]
    if len(raw) > MAX_FILE_BYTES:
        return doc, [SpecProblem(name, 1, 1, "", f"file is larger than {MAX_FILE_BYTES} bytes")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return doc, [SpecProblem(name, line, 1, "", "file is not valid UTF-8 text")]
    return parse_yaml_text(text, name)


def parse_yaml_text(text: str, name: str) -> tuple[YamlDocument, list[SpecProblem]]:
    """Like :func:`read_yaml`, from text already in memory."""
    doc = YamlDocument(file=name, data=None)
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return doc, [SpecProblem(name, 1, 1, "", "file is empty")]
        builder = _Builder(doc, loader)
        doc.data = builder.build(node, ())
    except yaml.YAMLError as exc:
        return doc, [_syntax_problem(exc, text, name)]
    except _TooLarge:
        return doc, [
            SpecProblem(name, 1, 1, "", f"document expands to more than {MAX_NODES} values")
        ]
    except RecursionError:
        return doc, [SpecProblem(name, 1, 1, "", "YAML is nested too deeply")]
    finally:
        if loader is not None:
            loader.dispose()
    if doc.data is None and not builder.problems:
        return doc, [SpecProblem(name, 1, 1, "", "file holds no data (only null)")]
    return doc, builder.problems


def _syntax_problem(exc: yaml.YAMLError, text: str, name: str) -> SpecProblem:
    line, col = 1, 1
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        what = exc.reason
    elif isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line, col = mark.line + 1, mark.column + 1
        what = exc.problem or "invalid YAML"
    else:
        what = str(exc)
    return SpecProblem(name, line, col, "", f"YAML syntax error: {what}")
