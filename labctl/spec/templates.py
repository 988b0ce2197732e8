"""Parameters in lab text: sandboxed Jinja2, undefined names are errors.

Every templated place of a lab (the briefing, inject arguments, check arguments,
adversary arguments, write_file templates) is rendered with the same environment and
the same variables: ``params`` (the student's values), ``student.name`` and
``instance.id`` / ``instance.lab``. The spec loader renders them once with sample values
(:func:`sample_variables`) to find mistakes before ``labctl up``; the scenario engine and
the graders render them with the instance's own values.

A string that is exactly one ``{{ expression }}`` keeps the expression's own type, so
``scid: "{{ params.spacecraft_id }}"`` writes an integer into a host's configuration;
any other string is rendered as text. Mappings and lists are rendered item by item.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from labctl.errors import LabctlError, ProtocolError
from labctl.protocols.table import LimitsTable, public_key, sign
from labctl.spec.models import Lab
from labctl.spec.params import ParameterValues, derive

_SINGLE_EXPRESSION: Final = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}).)*)\}\}$", re.DOTALL)
#: The top-level names a template may use.
TEMPLATE_NAMES: Final = ("params", "student", "instance")
#: The student and seed sample values are derived for (never a real student's).
SAMPLE_STUDENT: Final = "sample-student"
SAMPLE_SEED: Final = "labctl-validate"
SAMPLE_INSTANCE: Final = "sample-instance"


class RenderError(LabctlError):
    """A template names something undefined or does not parse."""


def ed25519_public(seed_hex: object) -> str:
    """The ``ed25519_public`` filter: the public key (hex) of an Ed25519 private key given
    as 64 hex digits, e.g. a ``hex_key`` parameter of 32 bytes. A lab puts the public half
    on the spacecraft and keeps the private half on the ground:
    ``{{ params.table_key | ed25519_public }}``."""
    try:
        return public_key(bytes.fromhex(str(seed_hex))).hex()
    except (ValueError, ProtocolError) as exc:
        raise RenderError(f"ed25519_public needs 64 hex digits (a 32-byte key): {exc}") from None


def sign_limits_table(
    seed_hex: object, version: int, max_burn_ms: int, thruster_enabled: object = True
) -> str:
    """The ``sign_limits_table`` filter: flight dynamics' Ed25519 signature (hex) of a
    limits table (:mod:`labctl.protocols.table`) under a private key given as 64 hex
    digits: ``{{ params.table_key | sign_limits_table(2, 4000, true) }}``."""
    try:
        table = LimitsTable(int(version), int(max_burn_ms), bool(thruster_enabled))
        return sign(bytes.fromhex(str(seed_hex)), table).hex()
    except (TypeError, ValueError, ProtocolError) as exc:
        raise RenderError(f"sign_limits_table: {exc}") from None


def environment(*, autoescape: bool = False) -> SandboxedEnvironment:
    """The one Jinja2 environment labctl renders lab text with."""
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=autoescape, keep_trailing_newline=True
    )
    env.filters["ed25519_public"] = ed25519_public
    env.filters["sign_limits_table"] = sign_limits_table
    return env


_ENV: Final = environment()


def variables(params: Mapping[str, Any], student: str, instance: str, lab: str) -> dict[str, Any]:
    """What templates may name: ``params``, ``student.name``, ``instance.id``/``.lab``."""
    return {
        "params": dict(params),
        "student": {"name": student},
        "instance": {"id": instance, "lab": lab},
    }


def sample_values(lab: Lab) -> ParameterValues:
    """Parameter values of a sample student: what validation renders templates with."""
    return derive(lab, SAMPLE_STUDENT, SAMPLE_SEED)


def sample_variables(lab: Lab, *, public_only: bool = False) -> dict[str, Any]:
    """Template variables of a sample student; ``public_only`` as for a briefing."""
    values = sample_values(lab)
    params = values.public() if public_only else values.values
    return variables(params, SAMPLE_STUDENT, SAMPLE_INSTANCE, lab.id)


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def is_lone_expression(text: str) -> bool:
    """``"{{ expr }}"`` and nothing else: renders to the expression's own type."""
    return text == text.strip() and _SINGLE_EXPRESSION.match(text) is not None


def render(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every string rendered against ``variables`` (params, student, ...)."""
    if isinstance(value, str):
        return _render_string(value, variables)
    if isinstance(value, Mapping):
        return {key: render(item, variables) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, variables) for item in value]
    return value


def render_text(template: str, variables: Mapping[str, Any], name: str = "<text>") -> str:
    """A whole document (a briefing, a file template) rendered as text."""
    try:
        return _ENV.from_string(template).render(variables)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{name}: {explain(exc)}") from None


def _render_string(text: str, variables: Mapping[str, Any]) -> Any:
    if "{{" not in text and "{%" not in text:
        return text
    single = _SINGLE_EXPRESSION.match(text.strip())
    try:
        if single is not None and text == text.strip():
            return _native(single["expr"], variables)
        return _ENV.from_string(text).render(variables)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{text!r}: {explain(exc)}") from None


def _native(expression: str, variables: Mapping[str, Any]) -> Any:
    result = _ENV.compile_expression(expression, undefined_to_none=False)(variables)
    if isinstance(result, jinja2.Undefined):
        str(result)  # StrictUndefined raises UndefinedError, naming what is missing
    return result


def explain(exc: jinja2.TemplateError) -> str:
    """One line for a template error (no template name, no line)."""
    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message} (known: {', '.join(TEMPLATE_NAMES)})"
    return exc.message or type(exc).__name__


# --- checking a template before it is rendered for a student -------------------------------


@dataclass(frozen=True)
class TemplateIssue:
    """One mistake in a template: its line in the template (1-based) and what is wrong."""

    line: int
    message: str


def template_issues(
    text: str, lab: Lab, *, public_only: bool = False, name: str = "template"
) -> list[TemplateIssue]:
    """Mistakes in ``text``, as rendering it for a student would meet them, but all of the
    parameters at once and each with its line: a syntax error; a parameter the lab does not
    declare; (``public_only``, a briefing) a secret parameter; then whatever else rendering
    with sample values raises (an unknown top-level name, a bad filter)."""
    if not is_template(text):
        return []
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return [TemplateIssue(exc.lineno or 1, f"Jinja syntax error: {exc.message}")]
    issues = list(_parameter_issues(tree, lab, public_only=public_only, name=name))
    return issues or _render_issues(text, lab, public_only=public_only)


def _render_issues(text: str, lab: Lab, *, public_only: bool) -> list[TemplateIssue]:
    """What rendering ``text`` with a sample student's values raises."""
    try:
        template = _ENV.from_string(text)
    except jinja2.TemplateSyntaxError as exc:  # an unknown filter or test
        return [TemplateIssue(exc.lineno or 1, exc.message or type(exc).__name__)]
    lines = text.count("\n") + 1
    try:
        template.render(sample_variables(lab, public_only=public_only))
    except jinja2.TemplateError as exc:
        return [TemplateIssue(_error_line(exc, lines), explain(exc))]
    except Exception as exc:  # a filter applied to a value of the wrong type, say
        return [TemplateIssue(_error_line(exc, lines), f"{type(exc).__name__}: {exc}")]
    return []


def _parameter_issues(
    tree: nodes.Template, lab: Lab, *, public_only: bool, name: str
) -> Iterator[TemplateIssue]:
    declared = list(lab.parameters)
    for line, param in _parameter_refs(tree):
        if param not in lab.parameters:
            yield TemplateIssue(line, unknown_parameter(param, declared))
        elif public_only and lab.parameters[param].secret:
            yield TemplateIssue(
                line,
                f"parameter {param!r} is secret: it never reaches the {name}"
                f" (declare it 'secret: false' to show it, or leave it out)",
            )


def unknown_parameter(name: str, declared: list[str]) -> str:
    close = difflib.get_close_matches(name, declared, n=1)
    if close:
        return f"unknown parameter {name!r} (did you mean {close[0]!r}?)"
    known = ", ".join(declared) or "none"
    return f"unknown parameter {name!r}; declared in 'parameters': {known}"


def _parameter_refs(tree: nodes.Node) -> Iterator[tuple[int, str]]:
    """(line, name) of every ``params.NAME`` and ``params['NAME']``."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not (isinstance(target, nodes.Name) and target.name == "params"):
            continue
        if isinstance(node, nodes.Getattr):
            yield node.lineno, node.attr
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            yield node.lineno, node.arg.value


def _error_line(exc: BaseException, lines: int) -> int:
    """The template line a rendering error was raised at (Jinja rewrites the traceback so
    that template frames carry template lines), else 1."""
    line = 1
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return min(max(line, 1), lines)
