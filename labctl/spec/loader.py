"""Load and validate labs: every problem in a file, each with file:line:column and field path.

Validation runs in three passes over one YAML document:

1. structure: the pydantic models (types, ranges, id formats, unknown keys);
2. vocabulary: check names, inject kinds and adversary actions are looked up
   in the :class:`~labctl.spec.vocabulary.Vocabulary` and their ``args``
   validated against the entry's model;
3. references: unique ids, objectives that require other objectives, hosts
   named by injects, files the lab refers to; hosts named in the arguments of checks,
   injects and adversary actions (:mod:`labctl.spec.topology`);
4. templates: the briefing, write_file templates and every templated argument,
   parsed and rendered with a sample student's parameters
   (:mod:`labctl.spec.template_problems`);
5. the checks the caller adds (``checks``): the layers above the spec know what
   the spec cannot, such as the hosts' configuration keys
   (:mod:`labctl.scenario.validate`).

Arguments of checks, injects and adversary actions are templated: pass 2 validates
them as a sample student's values render them, so ``port: "{{ params.port }}"`` is an
integer there.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from labctl.errors import LabctlError, NotFoundError, SpecError, SpecProblem
from labctl.spec.models import Lab, ObjectiveKind, Quiz
from labctl.spec.params import WORDLIST_DIR
from labctl.spec.template_problems import template_problems
from labctl.spec.templates import RenderError, is_lone_expression, is_template, render
from labctl.spec.templates import sample_variables as _sample_variables
from labctl.spec.topology import host_reference_problems
from labctl.spec.vocabulary import Registry, Vocabulary, default_vocabulary
from labctl.spec.yamlsource import Path_, YamlDocument, format_path, read_yaml

LAB_FILE: Final = "lab.yaml"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LoadedLab:
    """A validated lab and the folder it came from."""

    spec: Lab
    root: Path
    quiz: Quiz | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    def file(self, relative: str) -> Path:
        return self.root / relative


@dataclass(frozen=True)
class LabSource:
    """A structurally valid lab with its document: what a check of pass 5 reads, and how it
    places a problem (a path in lab.yaml, or a line of another file of the lab)."""

    doc: YamlDocument
    loaded: LoadedLab

    @property
    def lab(self) -> Lab:
        return self.loaded.spec

    def problem(self, path: Path_, message: str, *, at_key: bool = False) -> SpecProblem:
        return self.doc.problem(path, message, at_key=at_key)

    def file_problem(self, relative: str, line: int, message: str, column: int = 1) -> SpecProblem:
        return SpecProblem(_display(self.loaded.file(relative)), line, column, "", message)


#: A check of pass 5: every problem it finds in a lab.
LabCheck = Callable[[LabSource], Iterable[SpecProblem]]


def load_lab(
    path: Path, vocabulary: Vocabulary | None = None, checks: Sequence[LabCheck] = ()
) -> LoadedLab:
    """Load ``path`` (a lab folder or its lab.yaml). Raises SpecError with every problem,
    those of ``checks`` (run on a structurally valid lab) included."""
    lab_file = path / LAB_FILE if path.is_dir() else path
    root = lab_file.resolve().parent
    vocab = vocabulary or default_vocabulary()
    doc, problems = read_yaml(lab_file, display=_display(lab_file))
    if doc.data is None or problems:
        raise SpecError(problems)
    lab = _validate(doc, Lab, (), problems)
    samples = _samples(lab)
    problems += _vocabulary_problems(doc, vocab, samples)
    quiz = None
    if lab is not None:  # references need a structurally valid lab
        problems += _reference_problems(doc, lab, root)
        problems += host_reference_problems(doc, lab, vocab)
        quiz = _load_quiz(doc, root, lab, problems)
        source = LabSource(doc, LoadedLab(lab, root, quiz))
        problems += template_problems(source.doc, lab, root, _display, samples is not None)
        for check in checks:
            problems += check(source)
    if problems or lab is None:
        raise SpecError(
            sorted(
                dict.fromkeys(problems),
                key=lambda p: (p.file != doc.file, p.file, p.line, p.column),
            )
        )
    return LoadedLab(lab, root, quiz)


def _samples(lab: Lab | None) -> dict[str, Any] | None:
    """A sample student's template variables; None when the parameters cannot give them
    (the problem is reported where the parameter is)."""
    if lab is None:
        return None
    try:
        return _sample_variables(lab)
    except LabctlError:
        return None


def find_lab_dirs(paths: Iterable[Path]) -> list[Path]:
    """Expand paths into lab folders: a lab.yaml, a lab folder, or a folder of labs."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path.parent)
        elif (path / LAB_FILE).is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.glob(f"*/{LAB_FILE}")))
        else:
            raise NotFoundError(
                "file or folder", str(path), "give a lab folder, a lab.yaml or labs/"
            )
    return found


def lab_by_id(
    labs_dir: Path,
    lab_id: str,
    vocabulary: Vocabulary | None = None,
    checks: Sequence[LabCheck] = (),
) -> LoadedLab:
    """The lab with this id in ``labs_dir``."""
    candidate = labs_dir / lab_id
    if (candidate / LAB_FILE).is_file():
        return load_lab(candidate, vocabulary, checks)
    known = sorted(p.parent.name for p in labs_dir.glob(f"*/{LAB_FILE}"))
    close = difflib.get_close_matches(lab_id, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known labs: {', '.join(known) or 'none'}"
    raise NotFoundError("lab", lab_id, hint)


# --- pass 1: structure ---------------------------------------------------------------------


def _validate(
    doc: YamlDocument, model: type[M], prefix: Path_, problems: list[SpecProblem]
) -> M | None:
    data = _at(doc.data, prefix)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(
            _problem(doc, model, prefix, err) for err in exc.errors() if not _is_echo(err)
        )
        return None


def _validate_args(
    doc: YamlDocument,
    model: type[M],
    prefix: Path_,
    samples: Mapping[str, Any] | None,
    problems: list[SpecProblem],
) -> None:
    """Templated arguments, validated as a sample student's values render them.

    A template that does not render is pass 4's to report; the structure pass leaves its
    value alone (as it does every lone ``{{ expression }}`` when there are no samples)."""
    raw = _at(doc.data, prefix)
    rendered, templated, skipped = _render_templates(raw, samples)
    try:
        model.model_validate(rendered)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _data_path(raw, err["loc"])
            if _is_echo(err) or any(loc[: len(p)] == p for p in skipped):
                continue
            problem = _problem(doc, model, prefix, err)
            template = templated.get(loc)
            if template is not None:
                problem = replace(
                    problem,
                    message=f"{problem.message}, from {template!r} with sample values",
                )
            problems.append(problem)


def _render_templates(
    value: Any, samples: Mapping[str, Any] | None, path: Path_ = ()
) -> tuple[Any, dict[Path_, str], list[Path_]]:
    """(``value`` with its templates rendered, path → template of those rendered, paths
    of those left as they are)."""
    if isinstance(value, str):
        if not is_template(value):
            return value, {}, []
        if samples is None:
            return value, {}, [path] if is_lone_expression(value) else []
        try:
            return render(value, samples), {path: value}, []
        except RenderError:
            return value, {}, [path]
    if isinstance(value, Mapping | list):
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        out: dict[Any, Any] = {}
        templated: dict[Path_, str] = {}
        skipped: list[Path_] = []
        for key, item in items:
            out[key], more, less = _render_templates(item, samples, (*path, key))
            templated.update(more)
            skipped += less
        return (out if isinstance(value, Mapping) else list(out.values())), templated, skipped
    return value, {}, []


def _is_echo(err: ErrorDetails) -> bool:
    """A "too short" error that only echoes invalid items (pydantic drops them first)."""
    ctx = err.get("ctx") or {}
    data = err.get("input")
    return (
        err["type"] == "too_short"
        and isinstance(data, list | tuple)
        and len(data) >= int(ctx.get("min_length", 0))
    )


def _problem(
    doc: YamlDocument, model: type[BaseModel], prefix: Path_, err: ErrorDetails
) -> SpecProblem:
    path = (*prefix, *_data_path(_at(doc.data, prefix), err["loc"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        key = path[-1]
        message = f"unknown key {key!r}"
        allowed = _allowed_keys(model, path[len(prefix) :])
        close = difflib.get_close_matches(str(key), allowed, n=1) if allowed else []
        if close:
            message += f" (did you mean {close[0]!r}?)"
        elif allowed:
            message += f"; allowed: {', '.join(sorted(allowed))}"
        return doc.problem(path, message, at_key=True)
    if kind == "missing":
        return doc.problem(path[:-1], f"missing required key {path[-1]!r}", at_key=True)
    if kind == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        key = str(ctx.get("discriminator", "type")).strip("'")
        message = f"unknown {key} {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        return doc.problem((*path, key), message)
    message = _clean_message(err)
    shown = _show(err.get("input"))
    if shown:
        message += f" (got {shown})"
    if kind in {"enum", "literal_error"}:
        message += _did_you_mean(err)
    return doc.problem(path, message)


def _did_you_mean(err: ErrorDetails) -> str:
    expected = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
    close = difflib.get_close_matches(str(err.get("input")), expected, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _clean_message(err: ErrorDetails) -> str:
    msg = err["msg"]
    if err["type"] == "string_pattern_mismatch":
        return "does not have the expected format"
    if err["type"] in {"model_type", "model_attributes_type", "dict_type"}:
        return "expected a mapping of keys to values"
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg[0].lower() + msg[1:] if msg[1:2].islower() else msg


def _data_path(data: Any, loc: tuple[int | str, ...]) -> Path_:
    """Turn a pydantic location into a path through the data.

    Pydantic inserts union tags (``hex_key``) and markers (``[key]``) that are
    not in the document; drop them so the path matches what the author wrote.
    """
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        child = _child(node, part)
        if child is not _MISSING:
            node = child
        elif i < len(loc) - 1 or part == "[key]" or _is_union_tag(node, part):
            continue
        out.append(part)
    return tuple(out)


_MISSING: Final = object()


def _child(node: Any, part: str | int) -> Any:
    """``node[part]`` for a mapping key or list index, else ``_MISSING``."""
    if isinstance(node, Mapping):
        return node.get(part, _MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING


def _is_union_tag(node: Any, part: str | int) -> bool:
    """Pydantic puts the chosen member's tag (``int_range``) into the location."""
    return isinstance(node, Mapping) and part not in node and part in node.values()


def _allowed_keys(model: type[BaseModel], path: Path_) -> list[str]:
    """Field names of the (sub)model that owns the last key of ``path``."""
    current: Any = model
    for part in path[:-1]:
        current = _child_type(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _child_type(tp: Any, part: str | int) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _child_type(args[0], part)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return field.annotation if field else None
    if origin in (tuple, list) and isinstance(part, int):
        return args[0] if args else None
    if origin is dict:
        return args[1]
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        return _child_type(non_none[0], part) if len(non_none) == 1 else None
    return None


def _at(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _show(value: Any) -> str:
    """The offending value, short; nothing for a mapping (the path already says which)."""
    if isinstance(value, Mapping):
        return ""
    if isinstance(value, list | tuple) and len(repr(value)) > 60:
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --- pass 2: vocabulary --------------------------------------------------------------------


def _vocabulary_problems(
    doc: YamlDocument, vocab: Vocabulary, samples: Mapping[str, Any] | None = None
) -> list[SpecProblem]:
    """Check names and args against the vocabularies; works on raw data, so it runs
    even when the structure pass found problems elsewhere. Templated args are checked as
    ``samples`` (a sample student's variables) render them."""
    problems: list[SpecProblem] = []
    for path, registry, name_key in _vocabulary_refs(doc.data, vocab):
        name = _at(doc.data, (*path, name_key))
        entry = registry.get(name) if isinstance(name, str) else None
        if entry is None:
            if isinstance(name, str):  # wrong types are the structure pass's to report
                problems.append(doc.problem((*path, name_key), registry.unknown_message(name)))
            continue
        args_path = (*path, "args")
        if _exists(doc.data, args_path):
            if isinstance(_at(doc.data, args_path), Mapping):
                _validate_args(doc, entry.args, args_path, samples, problems)
            continue
        try:
            entry.args.model_validate({})
        except ValidationError as exc:
            missing = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
            problems.append(doc.problem(path, f"{registry.kind} {name!r} needs args: {missing}"))
    return problems


def _vocabulary_refs(data: Any, vocab: Vocabulary) -> Iterator[tuple[Path_, Registry, str]]:
    """Paths of every mapping in ``data`` that names a vocabulary entry."""
    candidates: list[tuple[Path_, Registry, str]] = []
    for i, _ in _items(data, "objectives"):
        candidates.append((("objectives", i, "check"), vocab.checks, "name"))
    for i, weakness in _items(data, "weaknesses"):
        for j, _ in _items(weakness, "injects"):
            candidates.append((("weaknesses", i, "injects", j), vocab.injects, "kind"))
    for i, _ in _items(data, "injects"):
        candidates.append((("injects", i), vocab.injects, "kind"))
    for i, phase in _items(data, "phases"):
        for j, _ in _items(phase, "injects"):
            candidates.append((("phases", i, "injects", j), vocab.injects, "kind"))
    for i, _ in _items(data, "adversary"):
        candidates.append((("adversary", i), vocab.actions, "action"))
    for path, registry, key in candidates:
        if _exists(data, (*path, key)):
            yield path, registry, key


def _items(data: Any, key: str) -> list[tuple[int, Any]]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return list(enumerate(value)) if isinstance(value, list) else []


def _exists(data: Any, path: Path_) -> bool:
    for part in path:
        data = _child(data, part)
        if data is _MISSING:
            return False
    return True


# --- pass 3: references --------------------------------------------------------------------


def _reference_problems(doc: YamlDocument, lab: Lab, root: Path) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    if root.name != lab.id:
        problems.append(
            doc.problem(("id",), f"lab id {lab.id!r} must match its folder name {root.name!r}")
        )
    problems += _duplicate_ids(doc, "objectives", [o.id for o in lab.objectives])
    problems += _duplicate_ids(doc, "weaknesses", [w.id for w in lab.weaknesses])
    problems += _requires_problems(doc, lab)
    problems += _duplicate_ids(doc, "phases", [p.id for p in lab.phases])
    problems += _phase_problems(doc, lab)
    problems += _host_problems(doc, lab)
    problems += _parameter_problems(doc, lab)
    problems += _file_problems(doc, lab, root)
    return problems


def _duplicate_ids(doc: YamlDocument, section: str, ids: list[str]) -> Iterator[SpecProblem]:
    seen: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in seen:
            yield doc.problem(
                (section, i, "id"), f"duplicate id {ident!r} (also {section}[{seen[ident]}])"
            )
        seen.setdefault(ident, i)


def _phase_problems(doc: YamlDocument, lab: Lab) -> Iterator[SpecProblem]:
    attacks = [o.id for o in lab.objectives if o.kind is ObjectiveKind.ATTACK]
    kinds = {o.id: o.kind.value for o in lab.objectives}
    for i, phase in enumerate(lab.phases):
        for j, needed in enumerate(phase.after):
            if needed in attacks:
                continue
            message = _unknown("attack objective", needed, attacks)
            if needed in kinds:
                message = (
                    f"{needed!r} is a {kinds[needed]} objective: a phase opens after attack"
                    f" objectives ({', '.join(attacks) or 'the lab has none'})"
                )
            yield doc.problem(("phases", i, "after", j), message)


def _requires_problems(doc: YamlDocument, lab: Lab) -> Iterator[SpecProblem]:
    ids = [o.id for o in lab.objectives]
    for i, objective in enumerate(lab.objectives):
        for j, needed in enumerate(objective.requires):
            path = ("objectives", i, "requires", j)
            if needed == objective.id:
                yield doc.problem(path, "an objective cannot require itself")
            elif needed not in ids:
                yield doc.problem(path, _unknown("objective", needed, ids))


def _host_problems(doc: YamlDocument, lab: Lab) -> Iterator[SpecProblem]:
    hosts = list(lab.hosts())
    refs: list[tuple[Path_, str | None]] = [
        ((*path, "host"), inject.host) for path, inject in lab.placed_injects()
    ]
    refs += [(("weaknesses", i, "component"), w.component) for i, w in enumerate(lab.weaknesses)]
    for k, link in enumerate(lab.topology.attach):
        refs.append((("topology", "attach", k, "host"), link.host))
    for path, host in refs:
        if host is not None and host not in hosts:
            yield doc.problem(path, _unknown("host", host, hosts))


def _parameter_problems(doc: YamlDocument, lab: Lab) -> Iterator[SpecProblem]:
    for name, param in lab.parameters.items():
        wordlist = getattr(param, "wordlist", None)
        if wordlist and not (WORDLIST_DIR / f"{wordlist}.txt").is_file():
            known = sorted(p.stem for p in WORDLIST_DIR.glob("*.txt"))
            yield doc.problem(
                ("parameters", name, "wordlist"), _unknown("word list", wordlist, known)
            )


def _file_problems(doc: YamlDocument, lab: Lab, root: Path) -> Iterator[SpecProblem]:
    refs: list[tuple[Path_, str | None]] = [
        (("briefing",), lab.briefing),
        (("instructor_notes",), lab.instructor_notes),
        (("quiz",), lab.quiz),
        (("solution", "walkthrough"), lab.solution.walkthrough),
        (("solution", "attack"), lab.solution.attack),
    ]
    if isinstance(lab.solution.remediation, str):
        refs.append((("solution", "remediation"), lab.solution.remediation))
    else:
        for i, step in enumerate(lab.solution.remediation_steps):
            refs.append((("solution", "remediation", i, "script"), step.script))
    for path, inject in lab.placed_injects():
        refs.append(((*path, "args", "template"), inject.args.get("template")))
    for i, phase in enumerate(lab.phases):
        refs.append((("phases", i, "briefing"), phase.briefing))
    for path, relative in refs:
        if relative is None or not isinstance(relative, str):
            continue
        problem = _file_problem(root, relative)
        if problem:
            yield doc.problem(path, f"{problem} (got {relative!r})")


def _file_problem(root: Path, relative: str) -> str | None:
    target = (root / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(root.resolve()):
        return "must be a path inside the lab folder"
    if not target.is_file():
        return "file not found in the lab folder"
    return None


def _load_quiz(doc: YamlDocument, root: Path, lab: Lab, problems: list[SpecProblem]) -> Quiz | None:
    if lab.quiz is None or _file_problem(root, lab.quiz):
        return None
    quiz_doc, quiz_problems = read_yaml(root / lab.quiz, display=_display(root / lab.quiz))
    problems.extend(quiz_problems)
    if quiz_doc.data is None or quiz_problems:
        return None
    return _validate(quiz_doc, Quiz, (), problems)


def _unknown(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown {kind} {name!r} (did you mean {close[0]!r}?)"
    return f"unknown {kind} {name!r}; known: {', '.join(known) or 'none'}"


__all__ = [
    "LAB_FILE",
    "LabCheck",
    "LabSource",
    "LoadedLab",
    "find_lab_dirs",
    "format_path",
    "lab_by_id",
    "load_lab",
]
