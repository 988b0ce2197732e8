"""What ``labctl labs validate`` checks beyond the spec: the injects against the hosts.

The spec loader knows the lab format; it cannot know the hosts (the range and the
backends are above it). These checks run as its pass 5 (``load_lab(checks=LAB_CHECKS)``)
and report in the same way, file:line:column: field.path: message:

- ``set_config``: the key must be one the host's program reads from that file, and the
  file, with every ``set_config`` of the lab applied to the one the image ships (with a
  sample student's values), must be one the host accepts at start
  (:mod:`labctl.range.configfiles` runs the hosts' own parsers);
- ``write_file``: the path must be somewhere the engine can write before the host's first
  start (not under a tmpfs mount; on a read-only root file system, on a volume);
- an inject kind with no default host must name one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import labctl
from labctl.backends.profiles import profile
from labctl.errors import SpecProblem
from labctl.range import wiring
from labctl.range.configfiles import (
    CONFIG_FILES,
    ConfigFile,
    Keys,
    config_file,
    config_of_path,
    known_keys,
)
from labctl.range.hosts.config import HostConfigError
from labctl.range.yamledit import ConfigEditError, get_dotted, load_mapping, set_dotted
from labctl.scenario.engine import applier_of
from labctl.spec import LoadedLab
from labctl.spec.loader import LabCheck, LabSource, lab_by_id, load_lab
from labctl.spec.models import InjectRef, Lab
from labctl.spec.templates import RenderError, is_template, render, sample_variables
from labctl.spec.yamlsource import Path_

#: The source tree labctl runs from: the images' configuration files are in containers/.
SOURCE_TREE: Final = Path(labctl.__file__).resolve().parent.parent
SET_CONFIG: Final = "set_config"
WRITE_FILE: Final = "write_file"


@dataclass(frozen=True)
class Placed:
    """An inject and its path in lab.yaml (``("injects", 3)``)."""

    path: Path_
    inject: InjectRef

    def at(self, *parts: str | int) -> Path_:
        return (*self.path, *parts)


def placed_injects(lab: Lab) -> list[Placed]:
    """The lab's injects in the order ``labctl up`` applies them, then each phase's."""
    return [Placed(path, ref) for path, ref in lab.placed_injects()]


def host_roles(lab: Lab) -> dict[str, str]:
    """Host name → role (the image it runs), after the lab's topology changes."""
    extra = {h.name: h.role.value for h in lab.topology.add_hosts}
    return {name: extra.get(name, name) for name in lab.hosts()}


# --- injects that need a host ---------------------------------------------------------------


def inject_host_problems(source: LabSource) -> Iterator[SpecProblem]:
    """An inject kind that has no default host needs ``host:``."""
    for placed in placed_injects(source.lab):
        applier = applier_of(placed.inject.kind)
        if placed.inject.host is None and applier is not None and applier.default_host is None:
            hosts = ", ".join(host_roles(source.lab))
            yield source.problem(
                placed.path,
                f"inject {placed.inject.kind!r} needs a target host: add 'host:' (one of {hosts})",
            )


# --- write_file: where the engine can write before the first start ---------------------------


def write_target_problems(source: LabSource) -> Iterator[SpecProblem]:
    """A file written under a tmpfs mount is hidden once the host starts; on a read-only
    root file system the engine writes only into a volume."""
    roles = host_roles(source.lab)
    for placed in placed_injects(source.lab):
        path = placed.inject.args.get("path")
        role = roles.get(placed.inject.host or "")
        if placed.inject.kind != WRITE_FILE or role is None or not isinstance(path, str):
            continue
        message = _write_target_problem(placed.inject.host or "", role, path)
        if message:
            yield source.problem(placed.at("args", "path"), message)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _write_target_problem(host: str, role: str, path: str) -> str | None:
    confined = profile(role)
    for mount in confined.tmpfs:
        if _under(path, mount):
            hint = (
                f"write files for the student's home to {wiring.HOME_SEED}/ (copied there"
                " at every start)"
                if role == "attacker"
                else "write it somewhere else, or have a program of the host create it"
            )
            return (
                f"{mount} is a tmpfs mount on {host}: a file written there before the start"
                f" is hidden; {hint}"
            )
    if confined.read_only and not any(_under(path, v) for v in confined.volumes):
        where = ", ".join(f"{v}/" for v in confined.volumes) or "nowhere"
        return f"{host} has a read-only root file system: files can be written only under {where}"
    return None


# --- set_config: keys and values against the hosts' own parsers ------------------------------


def host_config_problems(source: LabSource) -> list[SpecProblem]:
    """Every ``set_config`` checked against the configuration file of its host."""
    lab = source.lab
    roles = host_roles(lab)
    groups: dict[tuple[str, str], list[Placed]] = {}
    problems: list[SpecProblem] = []
    for placed in placed_injects(lab):
        args = placed.inject.args
        host, file = placed.inject.host, args.get("file")
        if placed.inject.kind != SET_CONFIG or host not in roles or not isinstance(file, str):
            continue
        if not isinstance(args.get("key"), str) or "value" not in args:
            continue  # pass 2 says so
        role = roles[host]
        found = config_file(role, file)
        if found is None:
            message = _other_file(host, role, file)
            if message:
                problems.append(source.problem(placed.at("args", "file"), message))
            continue
        groups.setdefault((host, file), []).append(placed)
    replaced = {
        (p.inject.host, p.inject.args.get("path"))
        for p in placed_injects(lab)
        if p.inject.kind == WRITE_FILE
    }
    for (host, file), injects in groups.items():
        if (host, file) in replaced:
            continue  # the lab writes the whole file: its set_config edit the lab's text
        found = config_file(roles[host], file)
        if found is not None:
            problems += _file_problems(source, host, found, injects)
    return problems


def _other_file(host: str, role: str, file: str) -> str | None:
    other = config_of_path(file)
    if other is None:
        return None  # a file the lab writes itself, say: `up` says if it is missing
    own = next((c for c in CONFIG_FILES if c.role == role), None)
    instead = f"; {host} reads {own.path}" if own else ""
    which = host if host == role else f"{host} ({role})"
    return f"{file} is {other.role}'s configuration file, not {which}'s{instead}"


@cache
def _example(relative: str) -> str | None:
    try:
        return (SOURCE_TREE / relative).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class _Edit:
    placed: Placed
    key: str
    value: Any
    templated: bool


def _file_problems(
    source: LabSource, host: str, config: ConfigFile, injects: Sequence[Placed]
) -> list[SpecProblem]:
    text = _example(config.example)
    if text is None:  # not run from a source tree: nothing to apply the edits to
        return []
    default = load_mapping(text)
    keys, _ = known_keys(config, default)
    edits: list[_Edit] = []
    problems: list[SpecProblem] = []
    for edit in _edits(source.lab, injects):
        try:
            text, _ = set_dotted(text, edit.key, edit.value)
        except ConfigEditError as exc:
            message = f"{config.path} on {host}: {exc}"
            problems.append(source.problem(edit.placed.at("args", "key"), message))
            continue
        edits.append(edit)
    final = load_mapping(text)
    final_keys, refused = known_keys(config, final)
    keys.merge(final_keys)
    for edit in edits:
        problems += _key_problems(source, config, keys, edit)
    if problems or refused is None or not edits:
        return problems
    return [_refusal(source, host, config, edits, refused, keys=keys, default=default)]


def _edits(lab: Lab, injects: Sequence[Placed]) -> Iterator[_Edit]:
    samples = sample_variables(lab)
    for placed in injects:
        key, value = placed.inject.args["key"], placed.inject.args["value"]
        try:
            rendered = render(value, samples)
        except RenderError:
            continue  # pass 4 says so
        yield _Edit(placed, key, rendered, _has_template(value))


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _leaves(key: str, value: Any, path: Path_ = ()) -> Iterator[tuple[str, Path_]]:
    """``key`` and, for a mapping value, every key inside it (with its path in the value)."""
    yield key, path
    if isinstance(value, Mapping):
        for sub, item in value.items():
            yield from _leaves(f"{key}.{sub}", item, (*path, str(sub)))


def _key_problems(
    source: LabSource, config: ConfigFile, keys: Keys, edit: _Edit
) -> list[SpecProblem]:
    for leaf, inner in _leaves(edit.key, edit.value):
        if keys.knows(leaf):
            continue
        where = edit.placed.at("args", "value", *inner) if inner else edit.placed.at("args", "key")
        message = f"{config.role} reads no key {leaf!r} in {config.path}{_suggest(leaf, keys)}"
        return [source.problem(where, message, at_key=bool(inner))]
    return []


def _suggest(key: str, keys: Keys) -> str:
    known = keys.concrete()
    corrected = _corrected(key, keys)
    close = [corrected] if corrected else []
    if not close:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    last = key.rpartition(".")[2]
    if not close:
        same_end = [k for k in known if k.rpartition(".")[2] == last]
        close = difflib.get_close_matches(key, same_end, n=1, cutoff=0.3)
    if not close:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    parent = key.rpartition(".")[0]
    while parent and not keys.knows(parent):
        parent = parent.rpartition(".")[0]
    prefix = f"{parent}." if parent else ""
    children = sorted(
        {
            k[len(prefix) :].split(".")[0]
            for k in known
            if k.startswith(prefix) and keys.pattern(k) != keys.pattern(parent)
        }
    )
    return f"; {parent or 'the top level'} has: {', '.join(children)}" if children else ""


def _corrected(key: str, keys: Keys) -> str | None:
    """``key`` with each unknown part replaced by the closest known one at its level."""
    patterns = keys.patterns()
    out: list[str] = []
    for part in key.split("."):
        if keys.knows(".".join([*out, part])):
            out.append(part)
            continue
        parent = keys.pattern(".".join(out)) if out else ""
        depth = len(out) + 1
        children = {
            p.split(".")[-1]
            for p in patterns
            if p.count(".") + 1 == depth and (not parent or p.startswith(f"{parent}."))
        } - {"*"}
        close = difflib.get_close_matches(part, sorted(children), n=1, cutoff=0.6)
        if not close:
            return None
        out.append(close[0])
    result = ".".join(out)
    return result if result != key and keys.knows(result) else None


def _refusal(
    source: LabSource,
    host: str,
    config: ConfigFile,
    edits: Sequence[_Edit],
    refused: HostConfigError,
    *,
    keys: Keys,
    default: Mapping[str, Any],
) -> SpecProblem:
    """The host's refusal of the edited file, placed at the edit that caused it."""
    bad = refused.key

    def related(edit: _Edit) -> bool:
        return (
            not bad
            or bad == edit.key
            or bad.startswith(f"{edit.key}.")
            or (edit.key.startswith(f"{bad}."))
        )

    edit = next((e for e in reversed(edits) if related(e)), edits[-1])
    sample = " (with sample values)" if edit.templated else ""
    hint = _new_entry_hint(edit.key, keys, default)
    detail = str(refused).removeprefix(f"{config.path}: ")
    return source.problem(
        edit.placed.at("args", "value"),
        f"{host} would refuse {config.path} at start: {detail}{sample}{hint}",
    )


def _new_entry_hint(key: str, keys: Keys, default: Mapping[str, Any]) -> str:
    """When ``key`` adds an entry to a free-name section (a user, an SA) that the file
    does not have, the entry it probably meant."""
    parts = key.split(".")
    for i in range(1, len(parts)):
        entry = ".".join(parts[: i + 1])
        if not keys.is_free_name(entry) or get_dotted(default, entry)[0]:
            continue
        found, section = get_dotted(default, ".".join(parts[:i]))
        names = [str(n) for n in section] if found and isinstance(section, Mapping) else []
        close = difflib.get_close_matches(parts[i], names, n=1)
        if close:
            return f"; {key!r} adds an entry {parts[i]!r}: did you mean {close[0]!r}?"
    return ""


#: The checks ``labctl labs validate`` and ``labctl up`` add to the spec loader's.
LAB_CHECKS: Final[tuple[LabCheck, ...]] = (
    inject_host_problems,
    write_target_problems,
    host_config_problems,
)


def validate_lab(path: Path) -> LoadedLab:
    """Load a lab with every check: the spec's and the hosts' (SpecError lists them)."""
    return load_lab(path, checks=LAB_CHECKS)


def lab_in(labs_dir: Path, lab_id: str) -> LoadedLab:
    """The lab ``lab_id`` of ``labs_dir``, with every check."""
    return lab_by_id(labs_dir, lab_id, checks=LAB_CHECKS)
