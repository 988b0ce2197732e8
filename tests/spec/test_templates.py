"""The loader's template pass: every template rendered once with a sample student's values,
and typed arguments checked as those values render them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labctl.errors import SpecError
from labctl.spec import load_lab
from labctl.spec.templates import (
    is_lone_expression,
    sample_variables,
    template_issues,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "example-lab"


def _example(tmp_path: Path) -> Path:
    target = tmp_path / "example-lab"
    shutil.copytree(EXAMPLE, target)
    return target


def _edit(lab_dir: Path, old: str, new: str, file: str = "lab.yaml") -> None:
    path = lab_dir / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _problems(lab_dir: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_lab(lab_dir)
    return [
        f"{p.field_path}: {p.message}" if p.field_path else p.message for p in info.value.problems
    ]


def test_sample_values_are_the_same_every_time() -> None:
    lab = load_lab(EXAMPLE).spec
    assert sample_variables(lab) == sample_variables(lab)
    assert "uplink_key" not in sample_variables(lab, public_only=True)["params"]
    assert set(sample_variables(lab)) == {"params", "student", "instance"}


def test_a_lone_template_may_stand_for_an_integer_argument(tmp_path: Path) -> None:
    lab_dir = _example(tmp_path)
    _edit(
        lab_dir,
        'args: {command: "17.1", attempts: 2}',
        'args: {attempts: "{{ params.rogue_spi }}"}',
    )
    assert load_lab(lab_dir).spec.objectives[2].check is not None


def test_a_rendered_value_of_the_wrong_type_names_the_template(tmp_path: Path) -> None:
    lab_dir = _example(tmp_path)
    _edit(
        lab_dir,
        'args: {command: "17.1", attempts: 2}',
        'args: {attempts: "{{ params.pass_length }}"}',
    )
    (problem,) = _problems(lab_dir)
    assert problem.startswith("objectives[2].check.args.attempts: input should be a valid integer")
    assert "from '{{ params.pass_length }}' with sample values" in problem


def test_a_rendered_value_out_of_range_is_reported(tmp_path: Path) -> None:
    lab_dir = _example(tmp_path)
    _edit(
        lab_dir,
        'args: {command: "17.1", attempts: 2}',
        'args: {attempts: "{{ params.rogue_spi * 1000 }}"}',
    )
    (problem,) = _problems(lab_dir)
    assert "less than or equal to" in problem


def test_an_undefined_parameter_in_a_typed_argument_is_reported_once(tmp_path: Path) -> None:
    lab_dir = _example(tmp_path)
    _edit(
        lab_dir, 'args: {command: "17.1", attempts: 2}', 'args: {attempts: "{{ params.rogue_sp }}"}'
    )
    assert _problems(lab_dir) == [
        "objectives[2].check.args.attempts: unknown parameter 'rogue_sp'"
        " (did you mean 'rogue_spi'?)"
    ]


def test_secret_parameters_may_go_to_hosts_but_not_to_the_briefing(tmp_path: Path) -> None:
    lab_dir = _example(tmp_path)
    load_lab(lab_dir)  # the example writes secret passwords with add_user
    briefing = lab_dir / "briefing.md"
    flag = "The station flag is {{ params.station_flag }}.\n"
    briefing.write_text(briefing.read_text("utf-8") + flag, "utf-8")
    (problem,) = _problems(lab_dir)
    assert "parameter 'station_flag' is secret: it never reaches the briefing" in problem


def test_a_broken_briefing_is_reported_at_its_line(tmp_path: Path) -> None:
    lab_dir = _example(tmp_path)
    (lab_dir / "briefing.md").write_text("# Title\n\nText\n{{ params.rogue_spi }\n", "utf-8")
    with pytest.raises(SpecError) as info:
        load_lab(lab_dir)
    (problem,) = info.value.problems
    assert (Path(problem.file).name, problem.line) == ("briefing.md", 4)
    assert problem.message.startswith("Jinja syntax error:")


def test_a_write_file_template_is_checked_at_its_line(tmp_path: Path) -> None:
    lab_dir = _example(tmp_path)
    template = lab_dir / "templates" / "sshd_config.j2"
    template.write_text(template.read_text("utf-8") + "# {{ params.nope }}\n", "utf-8")
    with pytest.raises(SpecError) as info:
        load_lab(lab_dir)
    (problem,) = info.value.problems
    assert Path(problem.file).name == "sshd_config.j2"
    assert problem.line == template.read_text("utf-8").count("\n")
    assert problem.message.startswith("unknown parameter 'nope'")


@pytest.mark.parametrize(
    ("text", "line", "start"),
    [
        ("a\n{% if %}\n", 2, "Jinja syntax error"),
        ("a\nb\n{{ params['rogue_sp'] }}", 3, "unknown parameter 'rogue_sp' (did you mean"),
        ("{{ studnt.name }}", 1, "'studnt' is undefined"),
        ("a\n\n{{ params.rogue_spi | frob }}", 3, "No filter named 'frob'"),
        ("a\n{{ params.rogue_spi + 'x' }}", 2, "TypeError"),
    ],
)
def test_template_issues_say_where(text: str, line: int, start: str) -> None:
    lab = load_lab(EXAMPLE).spec
    (issue,) = template_issues(text, lab)
    assert issue.line == line
    assert issue.message.startswith(start)


def test_text_without_a_template_is_not_parsed() -> None:
    lab = load_lab(EXAMPLE).spec
    assert template_issues("a } and {", lab) == []
    assert is_lone_expression("{{ params.x }}")
    assert not is_lone_expression(" {{ params.x }}")
    assert not is_lone_expression("{{ a }}{{ b }}")


# --- the signing filters (labs/table-load) -----------------------------------------------


def test_the_signing_filters_give_the_public_key_and_a_verifying_signature() -> None:
    from labctl.protocols.table import LimitsTable, public_key, verify
    from labctl.spec.templates import render_text

    seed = bytes(range(32))
    variables = {"params": {"key": seed.hex()}}
    public = render_text("{{ params.key | ed25519_public }}", variables)
    assert public == public_key(seed).hex()
    signature = render_text("{{ params.key | sign_limits_table(2, 4000, 1) }}", variables)
    table = LimitsTable(2, 4000, True)
    assert verify(bytes.fromhex(public), table, bytes.fromhex(signature))
    assert not verify(bytes.fromhex(public), LimitsTable(2, 4001, True), bytes.fromhex(signature))


@pytest.mark.parametrize(
    "template",
    [
        "{{ params.key | ed25519_public }}",
        "{{ params.key | sign_limits_table(2, 70000, 1) }}",
    ],
)
def test_the_signing_filters_refuse_bad_input_in_one_line(template: str) -> None:
    from labctl.spec.templates import RenderError, render_text

    with pytest.raises(RenderError) as caught:
        render_text(template, {"params": {"key": "abcd"}})
    assert "\n" not in str(caught.value)
