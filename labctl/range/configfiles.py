"""The hosts' configuration files: which role reads which file, parsed by which function,
and which keys each one knows.

Each emulated host reads one YAML file at start and checks every key (its parser raises
:class:`~labctl.range.hosts.config.HostConfigError` naming the key). The host-side tool
uses this table to check a lab's ``set_config`` injects before ``labctl up`` and to
generate the reference of configuration keys (docs/ground-segment.md), running the
hosts' own parsers: nothing here restates a key.

:func:`known_keys` runs a parser over a document with a recording
:class:`~labctl.range.hosts.config.Config`, which notes every key the parser reads (with
the type and default it reads it with), every key set it allows, and the sections whose
entries are free names (``users.<name>``, ``sdls.associations.<name>``).
"""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from labctl.range import wiring
from labctl.range.hosts.config import Config, HostConfigError

#: A parser: the typed settings of a document (or HostConfigError); relative paths (key
#: files) resolve against the Path.
Parser = Callable[[Config, Path], object]
#: Where a free name stands in a key pattern: ``users.*.role``.
ANY: Final = "*"


def _spacecraft(cfg: Config, base: Path) -> object:
    from labctl.range.hosts.spacecraft.config import parse_config

    return parse_config(cfg, base)


def _ground_station(cfg: Config, base: Path) -> object:
    from labctl.range.hosts.groundstation.settings import settings_from_config

    return settings_from_config(cfg, base)


def _mission_control(cfg: Config, base: Path) -> object:
    del base
    from labctl.range.hosts.missioncontrol.settings import settings_from

    return settings_from(cfg)


def _log_server(cfg: Config, base: Path) -> object:
    del base
    from labctl.range.hosts.logserver.config import parse_config

    return parse_config(cfg)


def _rf_link(cfg: Config, base: Path) -> object:
    del base
    from labctl.range.hosts.rflink.config import parse_config

    return parse_config(cfg)


@dataclass(frozen=True)
class ConfigFile:
    """One host role's configuration file."""

    role: str
    #: Where the file is in the role's image.
    path: str
    parse: Parser
    #: The commented file the image ships, relative to the source tree.
    example: str


CONFIG_FILES: Final[tuple[ConfigFile, ...]] = (
    ConfigFile(
        "spacecraft",
        wiring.SPACECRAFT_CONFIG,
        _spacecraft,
        "containers/spacecraft/spacecraft.yaml",
    ),
    ConfigFile(
        "ground-station",
        wiring.GROUND_STATION_CONFIG,
        _ground_station,
        "containers/ground-station/ground-station.yaml",
    ),
    ConfigFile(
        "mission-control",
        wiring.MISSION_CONTROL_CONFIG,
        _mission_control,
        "containers/mission-control/mission-control.yaml",
    ),
    ConfigFile("rf-link", wiring.RF_LINK_CONFIG, _rf_link, "containers/rf-link/rf-link.yaml"),
    ConfigFile(
        "log-server",
        wiring.LOG_SERVER_CONFIG,
        _log_server,
        "containers/log-server/log-server.yaml",
    ),
)


def config_file(role: str, path: str) -> ConfigFile | None:
    """The configuration file ``path`` of ``role``, if that role reads one there."""
    return next((c for c in CONFIG_FILES if c.role == role and c.path == path), None)


def config_of_path(path: str) -> ConfigFile | None:
    """The configuration file at ``path``, whichever role reads it."""
    return next((c for c in CONFIG_FILES if c.path == path), None)


# --- which keys a parser knows --------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    """A key as the parser reads it: the type it wants and its default (``...``: none)."""

    kind: str = ""
    default: Any = ...


@dataclass
class Keys:
    """What a parser read: every concrete key, its type and default; the sections whose
    entries are free names; and the keys each checked section allows."""

    read: dict[str, KeyInfo] = field(default_factory=dict)
    #: Sections whose keys are names the file chooses (users, associations).
    dynamic: set[str] = field(default_factory=set)
    allowed: set[str] = field(default_factory=set)
    #: True while a section's keys are being checked against its allowed set.
    checking: bool = False

    def merge(self, other: Keys) -> None:
        for key, info in other.read.items():
            self.note(key, info)
        self.dynamic |= other.dynamic
        self.allowed |= other.allowed

    def note(self, key: str, info: KeyInfo) -> None:
        known = self.read.get(key, KeyInfo())
        self.read[key] = KeyInfo(
            known.kind or info.kind, info.default if info.default is not ... else known.default
        )

    def concrete(self) -> list[str]:
        """Every key read or allowed, as written in the file (``users.admin.role``)."""
        return sorted({*self.read, *self.allowed} - {""})

    def pattern(self, key: str) -> str:
        """``key`` with the names in free-name sections replaced by ``*``."""
        parts = key.split(".")
        for i in range(1, len(parts)):
            if ".".join(parts[:i]) in self.dynamic:
                parts[i] = ANY
        return ".".join(parts)

    def patterns(self) -> set[str]:
        """Every known key and section as a pattern, prefixes included."""
        out: set[str] = set()
        for key in self.concrete():
            parts = self.pattern(key).split(".")
            out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        return out

    def knows(self, key: str) -> bool:
        """Whether the parser reads ``key`` (or a section ``key`` holds)."""
        return self.pattern(key) in self.patterns()

    def is_free_name(self, key: str) -> bool:
        """Whether ``key`` is a new entry of a free-name section (``users.bob``)."""
        parent = key.rpartition(".")[0]
        return parent in self.dynamic


class RecordingConfig(Config):
    """A :class:`Config` that notes what its parser asks of it into ``keys_read``."""

    def __init__(
        self,
        data: Mapping[str, Any],
        file: str = "<config>",
        prefix: str = "",
        keys: Keys | None = None,
    ) -> None:
        super().__init__(data, file, prefix)
        self.keys_read = keys if keys is not None else Keys()

    def raw(self, key: str, default: Any = ...) -> Any:
        self.keys_read.note(self.dotted(key), KeyInfo("", default))
        return super().raw(key, default)

    def get(self, key: str, kind: type[Any], default: Any = ...) -> Any:
        self.keys_read.note(self.dotted(key), KeyInfo(kind.__name__, default))
        return super().get(key, kind, default)

    def choice(self, key: str, choices: Mapping[str, Any], default: str) -> Any:
        self.keys_read.note(self.dotted(key), KeyInfo(f"one of {', '.join(choices)}", default))
        return super().choice(key, choices, default)

    def section(self, key: str) -> Config:
        plain = super().section(key)
        return RecordingConfig(self.raw(key, {}), plain.file, self.dotted(key), self.keys_read)

    def keys(self) -> list[str]:
        if not self.keys_read.checking:
            self.keys_read.dynamic.add(self.dotted("").rstrip("."))
        return super().keys()

    def only(self, allowed: Iterable[str], key: str = "") -> None:
        names = list(allowed)
        prefix = self.dotted(key) if key else self.dotted("").rstrip(".")
        self.keys_read.allowed.update(f"{prefix}.{n}" if prefix else n for n in names)
        self.keys_read.checking = True
        try:
            super().only(names, key)
        finally:
            self.keys_read.checking = False


def known_keys(config: ConfigFile, data: Mapping[str, Any]) -> tuple[Keys, HostConfigError | None]:
    """What ``config``'s parser reads of ``data``, and the error it raises (if any).

    Key files are not read: every ``key_file`` (``public_key_file``, ``secret_file``)
    names a stand-in key of its size for the parse (the real ones are written per
    instance, and ``labctl up`` checks them on the host)."""
    keys = Keys()
    with tempfile.TemporaryDirectory(prefix="labctl-keys-") as folder:
        stand_ins = {}
        for name, size in STAND_IN_SIZES.items():
            stand_in = Path(folder) / f"stand-in-{size}.key"
            stand_in.write_text("00" * size + "\n", encoding="ascii")
            stand_in.chmod(0o600)
            stand_ins[name] = str(stand_in)
        cfg = RecordingConfig(_stand_in_keys(data, stand_ins), config.path, "", keys)
        try:
            config.parse(cfg, Path(config.path).parent)
        except HostConfigError as exc:
            return keys, exc
    return keys, None


#: Keys that name a key file, and the size of the stand-in each gets: an AES key (SDLS),
#: an Ed25519 public key (table signatures), a shared station's customer secret.
STAND_IN_SIZES: Final = {"key_file": 16, "public_key_file": 32, "secret_file": 16}


def _stand_in_keys(data: Any, stand_ins: Mapping[str, str]) -> Any:
    if isinstance(data, Mapping):
        return {
            k: stand_ins[k]
            if k in stand_ins and isinstance(v, str) and v
            else _stand_in_keys(v, stand_ins)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_stand_in_keys(v, stand_ins) for v in data]
    return data


# --- the reference of every host's configuration keys ----------------------------------------

#: The markers around the generated reference in docs/ground-segment.md.
REFERENCE_BEGIN: Final = "<!-- generated by `labctl schema config`: do not edit by hand -->"
REFERENCE_END: Final = "<!-- end of the generated reference -->"


def config_reference(source_tree: Path) -> str:
    """Markdown: every key of every host's configuration file, with the type and default
    its parser reads it with and the value in the file the image ships."""
    import yaml

    intro = (
        "Every key each host's program reads (`<name>`: an entry whose name the file"
        " chooses). *default*: what the program takes when the key is absent (- where it"
        " reads the key only with other values, e.g. `mac_algorithm` only for the"
        " authentication service; an SA's lengths depend on its service). *in the image*:"
        " the value in the file the image ships."
    )
    parts = [REFERENCE_BEGIN, "", textwrap.fill(intro, width=90), ""]
    for config in CONFIG_FILES:
        data = yaml.safe_load((source_tree / config.example).read_text(encoding="utf-8")) or {}
        keys, _ = known_keys(config, data)
        parts += [
            f"#### {config.role}: `{config.path}`",
            "",
            f"Commented example: [`{config.example}`](../{config.example}).",
            "",
            "| key | type | default | in the image |",
            "| --- | --- | --- | --- |",
        ]
        parts += [_reference_row(keys, pattern, data) for pattern in _leaf_patterns(keys)]
        parts.append("")
    parts.append(REFERENCE_END)
    return "\n".join(parts) + "\n"


def _leaf_patterns(keys: Keys) -> list[str]:
    patterns = {keys.pattern(k) for k in keys.concrete()}
    sections = {p.rsplit(".", 1)[0] for p in patterns if "." in p}
    return sorted(p for p in patterns if p not in sections and not p.endswith(f".{ANY}"))


def _reference_row(keys: Keys, pattern: str, data: Mapping[str, Any]) -> str:
    infos = [info for key, info in keys.read.items() if keys.pattern(key) == pattern]
    kind = next((i.kind for i in infos if i.kind), "")
    default = next((i.default for i in infos if i.default is not ...), ...)
    default_text = ("required" if default is ... else _show(default)) if infos else "-"
    image = [_value_at(data, key) for key in keys.concrete() if keys.pattern(key) == pattern]
    shown = sorted({_show(v) for found, v in image if found})
    if not kind:
        sample = next((v for found, v in image if found and v is not None), default)
        kind = _kind_of(sample)
    name = pattern.replace(ANY, "<name>")
    return f"| `{name}` | {kind or '-'} | {default_text} | {', '.join(shown) or '-'} |"


def _value_at(data: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _kind_of(value: Any) -> str:
    if value is None or value is ...:
        return ""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def _show(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | tuple):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, Mapping):
        return "(a mapping)"
    if value == "":
        return '`""`'
    text = str(value).replace("|", "\\|")
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def with_reference(document: str, reference: str) -> str | None:
    """``document`` with the generated reference between its markers replaced by
    ``reference``; None when it has no markers."""
    start, end = document.find(REFERENCE_BEGIN), document.find(REFERENCE_END)
    if start < 0 or end < start:
        return None
    return document[:start] + reference.rstrip("\n") + document[end + len(REFERENCE_END) :]


def reference_in(document: str) -> str | None:
    """The generated reference ``document`` holds, markers included (None: no markers)."""
    start, end = document.find(REFERENCE_BEGIN), document.find(REFERENCE_END)
    if start < 0 or end < start:
        return None
    return document[start : end + len(REFERENCE_END)] + "\n"
