"""Pass 4 of the loader: every template of a lab, parsed and rendered with sample values.

A lab's templates are rendered per student only at ``labctl up`` (inject arguments,
write_file templates), at ``labctl briefing`` (the briefing) or while grading (check
arguments), where a mistake costs a class its set-up. Here each one is parsed and
rendered once with a sample student's parameters, and each problem is reported where it
is: ``briefing.md:LINE``, ``templates/x.j2:LINE`` or the argument's place in lab.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from labctl.errors import LabctlError, SpecProblem
from labctl.spec.models import Lab
from labctl.spec.templates import TemplateIssue, is_template, sample_values, template_issues
from labctl.spec.yamlsource import Path_, YamlDocument

Display = Callable[[Path], str]


def template_problems(
    doc: YamlDocument, lab: Lab, root: Path, display: Display, renderable: bool = True
) -> list[SpecProblem]:
    """Every problem in the lab's templates; none when the parameters cannot be sampled
    (``renderable`` false: their own problem is reported where they are declared)."""
    if not renderable or not _samples_ok(lab):
        return []
    problems = list(_file_templates(lab, root, display))
    for path, text in _templated_args(doc.data):
        for issue in template_issues(text, lab, name="argument"):
            where = f" (line {issue.line} of the text)" if "\n" in text.strip() else ""
            problems.append(doc.problem(path, f"{issue.message}{where}"))
    return problems


def _samples_ok(lab: Lab) -> bool:
    try:
        sample_values(lab)
    except LabctlError:
        return False
    return True


def _file_templates(lab: Lab, root: Path, display: Display) -> Iterator[SpecProblem]:
    files: list[tuple[str, bool, str]] = [(lab.briefing, True, "briefing")]
    files += [(p.briefing, True, "briefing") for p in lab.phases if p.briefing]
    for _, inject in lab.placed_injects():
        template = inject.args.get("template")
        if isinstance(template, str):
            files.append((template, False, "file"))
    for relative, public_only, name in dict.fromkeys(files):
        path = (root / relative).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            continue  # pass 3 says so
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            yield SpecProblem(display(path), 1, 1, "", f"cannot be read as UTF-8 text: {exc}")
            continue
        for issue in template_issues(text, lab, public_only=public_only, name=name):
            yield _at_line(display(path), issue)


def _at_line(file: str, issue: TemplateIssue) -> SpecProblem:
    return SpecProblem(file, issue.line, 1, "", issue.message)


def _templated_args(data: Any) -> Iterator[tuple[Path_, str]]:
    """(path, text) of every templated string in the args of injects, checks and
    adversary steps."""
    if not isinstance(data, Mapping):
        return
    roots: list[Path_] = []
    for i, _ in _items(data, "injects"):
        roots.append(("injects", i, "args"))
    for w, weakness in _items(data, "weaknesses"):
        for i, _ in _items(weakness, "injects"):
            roots.append(("weaknesses", w, "injects", i, "args"))
    for p, phase in _items(data, "phases"):
        for i, _ in _items(phase, "injects"):
            roots.append(("phases", p, "injects", i, "args"))
    for i, _ in _items(data, "objectives"):
        roots.append(("objectives", i, "check", "args"))
    for i, _ in _items(data, "adversary"):
        roots.append(("adversary", i, "args"))
    for root in roots:
        node: Any = data
        for part in root:
            node = _child(node, part)
        yield from _strings(node, root)


def _strings(value: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _items(data: Any, key: str) -> list[tuple[int, Any]]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return list(enumerate(value)) if isinstance(value, list) else []


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None
