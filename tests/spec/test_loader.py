"""The loader on valid labs: the example lab, the shipped labs, and targeted edits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from labctl.errors import NotFoundError, SpecError
from labctl.spec import Lab, default_vocabulary, find_lab_dirs, lab_by_id, load_lab
from labctl.spec.models import Network
from labctl.spec.schema import lab_json_schema
from labctl.spec.yamlsource import read_yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "example-lab"
LABS = REPO / "labs"


def test_example_lab_loads_and_uses_every_top_level_field() -> None:
    loaded = load_lab(EXAMPLE)
    written = _data(EXAMPLE)
    assert set(written) == set(Lab.model_fields)
    assert loaded.spec.id == "example-lab"
    assert loaded.quiz is not None
    assert len(loaded.quiz.questions) == 1


def test_example_lab_uses_every_parameter_type() -> None:
    lab = load_lab(EXAMPLE).spec
    assert {p.type for p in lab.parameters.values()} == {
        "hex_key",
        "password",
        "flag",
        "int_range",
        "choice",
    }


def test_example_lab_uses_every_objective_kind() -> None:
    lab = load_lab(EXAMPLE).spec
    assert {o.kind.value for o in lab.objectives} == {
        "attack",
        "remediation",
        "availability",
        "report",
    }


@pytest.mark.parametrize("lab_dir", find_lab_dirs([LABS]), ids=lambda p: p.name)
def test_every_shipped_lab_is_valid(lab_dir: Path) -> None:
    assert load_lab(lab_dir).spec.id == lab_dir.name


def test_tc_replay_lab_metadata() -> None:
    lab = lab_by_id(LABS, "tc-replay").spec
    assert "EX-0001.01" in lab.sparta.techniques
    assert set(lab.cissp_domains) == {3, 4}
    assert Network.RF in lab.hosts()["attacker"]


def test_durations_accept_text_and_seconds() -> None:
    lab = load_lab(EXAMPLE).spec
    assert lab.duration == 3600
    assert lab.adversary[0].at == 600
    assert lab.adversary[1].every == 30


def test_models_are_frozen() -> None:
    lab = load_lab(EXAMPLE).spec
    with pytest.raises(ValidationError):
        lab.title = "changed"  # type: ignore[misc]


def test_topology_changes_apply_to_the_standard_segment() -> None:
    hosts = load_lab(EXAMPLE).spec.hosts()
    assert hosts["backup-station"] == {Network.RF, Network.GROUND}
    assert hosts["attacker"] == {Network.CORP, Network.RF}
    assert hosts["spacecraft"] == {Network.RF}


def test_lab_by_id_suggests_a_close_name() -> None:
    with pytest.raises(NotFoundError, match="did you mean 'tc-replay'"):
        lab_by_id(LABS, "tc-replya")


def test_find_lab_dirs_rejects_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no file or folder named"):
        find_lab_dirs([tmp_path / "nowhere"])


def _copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "example-lab"
    shutil.copytree(EXAMPLE, target)
    return target


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    lab_dir = _copy_example(tmp_path)
    text = (lab_dir / "lab.yaml").read_text(encoding="utf-8")
    text = text.replace("difficulty: introductory", "difficulty: easy")
    text = text.replace("cissp_domains: [4, 5]", "cissp_domains: [4, 12]")
    text = text.replace("name: telemetry_fresh", "name: telemetry_frsh")
    (lab_dir / "lab.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_lab(lab_dir)
    paths = [p.field_path for p in info.value.problems]
    assert paths == ["difficulty", "cissp_domains[1]", "objectives[3].check.name"]


def test_problem_positions_point_at_the_value(tmp_path: Path) -> None:
    lab_dir = _copy_example(tmp_path)
    lines = (lab_dir / "lab.yaml").read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("difficulty:"))
    lines[index] = "difficulty: 3"
    (lab_dir / "lab.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_lab(lab_dir)
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (index + 1, len("difficulty: ") + 1)


def test_check_args_are_validated_against_the_registry(tmp_path: Path) -> None:
    lab_dir = _copy_example(tmp_path)
    text = (lab_dir / "lab.yaml").read_text(encoding="utf-8")
    text = text.replace('args: {command: "17.1", attempts: 2}', "args: {attempts: 0}")
    (lab_dir / "lab.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_lab(lab_dir)
    assert [p.field_path for p in info.value.problems] == ["objectives[2].check.args.attempts"]
    assert "greater than or equal to 1" in info.value.problems[0].message


def test_grader_checks_arrive_through_the_entry_point() -> None:
    names = default_vocabulary().checks.names()
    assert {"replay_rejected", "command_round_trip", "telemetry_fresh"} <= set(names)


def _data(lab_dir: Path) -> Any:
    doc, problems = read_yaml(lab_dir / "lab.yaml")
    assert problems == []
    return doc.data


def test_json_schema_is_valid_and_accepts_shipped_labs() -> None:
    schema = lab_json_schema(default_vocabulary())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for lab_dir in [EXAMPLE, *find_lab_dirs([LABS])]:
        data = _data(lab_dir)
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], lab_dir.name


def test_json_schema_rejects_unknown_check_args() -> None:
    validator = jsonschema.Draft202012Validator(lab_json_schema(default_vocabulary()))
    data = _data(EXAMPLE)
    data["objectives"][0]["check"]["args"] = {"bogus": 1}
    assert not validator.is_valid(json.loads(json.dumps(data)))


def test_json_schema_takes_a_template_where_a_typed_value_goes() -> None:
    validator = jsonschema.Draft202012Validator(lab_json_schema(default_vocabulary()))
    data = _data(EXAMPLE)
    check = data["objectives"][0]["check"]
    check["name"], check["args"] = "table_trusted_active", {"public_key": "{{ params.k }}"}
    assert validator.is_valid(json.loads(json.dumps(data)))
    check["args"] = {"public_key": "not-a-key"}
    assert not validator.is_valid(json.loads(json.dumps(data)))
    check["name"], check["args"] = "telemetry_fresh", {"max_age": "{{ params.age }}"}
    assert validator.is_valid(json.loads(json.dumps(data)))
    check["args"] = {"max_age": "long"}
    assert not validator.is_valid(json.loads(json.dumps(data)))


def test_lab_format_doc_lists_every_vocabulary_entry() -> None:
    text = (REPO / "docs" / "lab-format.md").read_text(encoding="utf-8")
    vocab = default_vocabulary()
    for registry in (vocab.checks, vocab.injects, vocab.actions):
        for entry in registry:
            assert f"| `{entry.name}` |" in text, f"{registry.kind} {entry.name} is not documented"
