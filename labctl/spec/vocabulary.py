"""Named, typed vocabularies that lab specs refer to: checks, injects, adversary actions.

A lab says ``check: {name: replay_rejected, args: {...}}``. The loader checks
the structure first, then looks the name up here and validates ``args``
against that entry's pydantic model. New kinds are added by registering
entries; the loader never changes.

Grader checks live in the :mod:`graders` package and arrive as plugins via
the ``labctl.checks`` entry-point group, so this layer never imports them. The
registry built here is the only table of check names: the spec loader validates
against it and the grading run looks the same entries up to run them, so a check
another package publishes in that group is graded exactly like a built-in one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Annotated, Any, ClassVar, Final, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from labctl.errors import LabctlError

#: Entry-point groups, one per vocabulary: each entry names an iterable of classes (with
#: ``name``, ``summary`` and ``Args``). labctl publishes its own as the entries ``builtin``.
CHECK_PLUGIN_GROUP: Final = "labctl.checks"
INJECT_PLUGIN_GROUP: Final = "labctl.injects"
ACTION_PLUGIN_GROUP: Final = "labctl.actions"


class VocabularyError(LabctlError):
    """A vocabulary cannot be built: a name registered twice (a plugin's check clashing
    with a built-in one) or a plugin that does not load. One line, naming the plugin."""

    exit_code = 2


class Args(BaseModel):
    """Base for every vocabulary entry's arguments: frozen, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


#: The argument model a vocabulary class is generic over (``Check[ArgsT]`` and the like).
ArgsT = TypeVar("ArgsT", bound=Args)


@dataclass(frozen=True)
class HostRef:
    """Marks an argument that names one of the lab's hosts, in an ``Annotated`` type
    (``HostName`` is ``str`` so marked). ``labs validate`` checks every such value, given
    or default, against the lab's topology (the standard hosts after ``topology``'s
    changes), with "did you mean" and the value's file:line (:mod:`labctl.spec.topology`).

    ``on``: networks of which the host must be on at least one (where ``seen_from``
    reaches it from), e.g. the grader vantage's for a check that connects from there.
    ``aliases``: values that stand for a host, e.g. ``("ssh", "ground-station")``. When a
    type is marked more than once (``Annotated[HostName, HostRef(on=...)]``) the last
    marker counts.
    """

    on: tuple[str, ...] = ()
    seen_from: str = ""
    aliases: tuple[tuple[str, str], ...] = ()

    def host_of(self, value: str) -> str:
        """The host ``value`` names."""
        return dict(self.aliases).get(value, value)


#: Host names as lab.yaml writes them (lower-case letters, digits and dashes).
HOST_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
#: An argument naming one of the lab's hosts, checked against its topology at load time.
HostName = Annotated[
    str,
    StringConstraints(pattern=HOST_NAME_PATTERN),
    HostRef(),
    Field(description="a host of the lab's topology, e.g. ground-station"),
]
#: A TCP or UDP port number.
PortNumber = Annotated[int, Field(ge=1, le=65535, description="a port, 1..65535")]


class VocabularyItem(Protocol):
    """What a plugin class provides to be listed in a vocabulary."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Args: type[Args]


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    args: type[Args]
    target: object = None
    #: Where the entry came from (an entry point's ``name = module:object``), for messages.
    source: str = "labctl"


@dataclass
class Registry:
    """Name → typed entry, for one kind of thing (``check``, ``inject``, ``action``)."""

    kind: str
    _entries: dict[str, Entry] = field(default_factory=dict)

    def add(
        self,
        name: str,
        args: type[Args],
        summary: str,
        target: object = None,
        source: str = "labctl",
    ) -> None:
        """Register ``name``; a name taken already is a :class:`VocabularyError`."""
        taken = self._entries.get(name)
        if taken is not None:
            raise VocabularyError(
                f"{self.kind} {name!r} from {source} clashes with the one from "
                f"{taken.source}; rename one of them"
            )
        self._entries[name] = Entry(name, summary, args, target, source)

    def add_item(self, item: type[VocabularyItem], source: str = "labctl") -> None:
        self.add(item.name, item.Args, item.summary, item, source)

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


def _describe(ep: EntryPoint) -> str:
    dist = f" of package {ep.dist.name!r}" if ep.dist is not None else ""
    return f"plugin {ep.name!r} ({ep.value}{dist}) in group {ep.group!r}"


def plugin_items(ep: EntryPoint) -> list[type[VocabularyItem]]:
    """The classes an entry point publishes; a :class:`VocabularyError` when it does not
    load or is not an iterable of classes with ``name``, ``summary`` and ``Args``."""
    try:
        loaded: Any = ep.load()
    except Exception as exc:  # a plugin's import may fail in any way; say which plugin
        raise VocabularyError(
            f"{_describe(ep)} does not load: {type(exc).__name__}: {exc}"
        ) from exc
    items = list(loaded) if isinstance(loaded, Iterable) else [loaded]
    for item in items:
        fields = ("name", "summary", "Args")
        if not isinstance(item, type) or not all(hasattr(item, f) for f in fields):
            raise VocabularyError(
                f"{_describe(ep)} publishes {item!r}, not a class with name, summary and Args"
            )
    return items


def _own_first(ep: EntryPoint) -> tuple[bool, str]:
    # labctl's own entries first, so a clash names the plugin that came second.
    return (ep.dist is None or ep.dist.name != "labctl", ep.name)


def register_group(registry: Registry, group: str) -> None:
    """Add to ``registry`` every class published in the entry-point ``group``."""
    for ep in sorted(entry_points(group=group), key=_own_first):
        source = _describe(ep)
        for item in plugin_items(ep):
            registry.add_item(item, source)


@cache
def default_vocabulary() -> Vocabulary:
    """Every installed check, inject kind and adversary action, labctl's and plugins'.

    Loading the groups imports the packages that carry the vocabularies out (the
    graders, the scenario engine, the adversary): this layer names them only as
    entry-point strings, so it stays below them."""
    vocab = Vocabulary()
    register_group(vocab.checks, CHECK_PLUGIN_GROUP)
    register_group(vocab.injects, INJECT_PLUGIN_GROUP)
    register_group(vocab.actions, ACTION_PLUGIN_GROUP)
    return vocab
