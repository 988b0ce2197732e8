"""Parameters in inject arguments and briefings: sandboxed Jinja2, undefined names are errors.

A string that is exactly one ``{{ expression }}`` keeps the expression's own type, so
``scid: "{{ params.spacecraft_id }}"`` writes an integer into a host's configuration;
any other string is rendered as text. Mappings and lists are rendered item by item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from labctl.errors import LabctlError

_SINGLE_EXPRESSION: Final = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}).)*)\}\}$", re.DOTALL)


class RenderError(LabctlError):
    """A template names something undefined or does not parse."""


def environment(*, autoescape: bool = False) -> SandboxedEnvironment:
    """The one Jinja2 environment labctl renders lab text with."""
    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=autoescape, keep_trailing_newline=True
    )


_ENV: Final = environment()


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
        raise RenderError(f"{name}: {_explain(exc)}") from None


def _render_string(text: str, variables: Mapping[str, Any]) -> Any:
    if "{{" not in text and "{%" not in text:
        return text
    single = _SINGLE_EXPRESSION.match(text.strip())
    try:
        if single is not None and text == text.strip():
            return _native(single["expr"], variables)
        return _ENV.from_string(text).render(variables)
    except jinja2.TemplateError as exc:
        raise RenderError(f"{text!r}: {_explain(exc)}") from None


def _native(expression: str, variables: Mapping[str, Any]) -> Any:
    result = _ENV.compile_expression(expression, undefined_to_none=False)(variables)
    if isinstance(result, jinja2.Undefined):
        str(result)  # StrictUndefined raises UndefinedError, naming what is missing
    return result


def _explain(exc: jinja2.TemplateError) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message} (known: params, student, instance)"
    return exc.message or type(exc).__name__
