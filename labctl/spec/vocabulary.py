"""Named, typed vocabularies that lab specs refer to: checks, injects, adversary actions.

A lab says ``check: {name: replay_rejected, args: {...}}``. The loader checks
the structure first, then looks the name up here and validates ``args``
against that entry's pydantic model. New kinds are added by registering
entries; the loader never changes.

Grader checks live in the :mod:`graders` package and arrive as plugins via
the ``labctl.checks`` entry-point group, so this layer never imports them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

CHECK_PLUGIN_GROUP = "labctl.checks"


class Args(BaseModel):
    """Base for every vocabulary entry's arguments: frozen, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class VocabularyItem(Protocol):
    """What a plugin class provides to be listed in a vocabulary."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Args: ClassVar[type[BaseModel]]


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    args: type[BaseModel]
    target: object = None


@dataclass
class Registry:
    """Name → typed entry, for one kind of thing (``check``, ``inject``, ``action``)."""

    kind: str
    _entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, name: str, args: type[BaseModel], summary: str, target: object = None) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, summary, args, target)

    def add_item(self, item: type[VocabularyItem]) -> None:
        self.add(item.name, item.Args, item.summary, item)

    def get(self, name: str) -> Entry | None:
        return self._entries.get(name)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def unknown_message(self, name: object) -> str:
        text = f"unknown {self.kind} {name!r}"
        close = difflib.get_close_matches(str(name), self._entries, n=1) if name else []
        if close:
            return f"{text} (did you mean {close[0]!r}?)"
        known = ", ".join(self.names()) or "none are installed"
        return f"{text}; known {self.kind}s: {known}"

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class Vocabulary:
    checks: Registry = field(default_factory=lambda: Registry("check"))
    injects: Registry = field(default_factory=lambda: Registry("inject"))
    actions: Registry = field(default_factory=lambda: Registry("adversary action"))


def _plugin_items() -> Iterable[type[VocabularyItem]]:
    for ep in entry_points(group=CHECK_PLUGIN_GROUP):
        items: Any = ep.load()
        yield from items


@cache
def default_vocabulary() -> Vocabulary:
    """The built-in injects and actions plus every installed check plugin."""
    from labctl.spec import builtin_vocabulary

    vocab = Vocabulary()
    builtin_vocabulary.register(vocab)
    for item in _plugin_items():
        vocab.checks.add_item(item)
    return vocab
