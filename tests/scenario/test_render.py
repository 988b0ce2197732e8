"""Parameters in inject arguments: native types for a lone expression, strict names, sandbox."""

from __future__ import annotations

import pytest

from labctl.scenario import RenderError, render, render_text

NAMES = {"params": {"scid": 321, "key": "ab12", "rate": 0.5}, "student": {"name": "ana"}}


def test_a_lone_expression_keeps_the_parameter_type() -> None:
    assert render("{{ params.scid }}", NAMES) == 321
    assert render("{{params.rate}}", NAMES) == 0.5
    assert render("{{ params.scid + 1 }}", NAMES) == 322


def test_text_around_an_expression_makes_a_string() -> None:
    assert render("SC-{{ params.scid }}", NAMES) == "SC-321"
    assert render("{{ params.key }}\n", NAMES) == "ab12\n"
    assert render("{{ params.scid }} {{ student.name }}", NAMES) == "321 ana"


def test_containers_are_rendered_item_by_item_and_other_values_kept() -> None:
    args = {"a": ["{{ params.scid }}", 7, None], "b": {"c": "{{ student.name }}"}, "d": True}
    assert render(args, NAMES) == {"a": [321, 7, None], "b": {"c": "ana"}, "d": True}
    assert render("no template here {", NAMES) == "no template here {"


@pytest.mark.parametrize("text", ["{{ params.uplink_kye }}", "x {{ params.uplink_kye }}"])
def test_an_undefined_parameter_is_one_line_naming_it(text: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(text, NAMES)
    message = str(caught.value)
    assert "uplink_kye" in message
    assert "\n" not in message
    assert message.startswith(repr(text))


def test_an_unknown_top_level_name_is_an_error() -> None:
    with pytest.raises(RenderError, match="'nope' is undefined"):
        render("{{ nope }}", NAMES)


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        render("{{ params.__class__.__mro__ }}", NAMES)


def test_syntax_errors_are_render_errors() -> None:
    with pytest.raises(RenderError):
        render("{{ params.scid ", NAMES)
    with pytest.raises(RenderError, match=r"briefing\.md"):
        render_text("{% if %}", NAMES, "briefing.md")
