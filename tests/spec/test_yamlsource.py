"""The position-aware YAML reader: positions, duplicates, booleans, hostile documents."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from labctl.spec.yamlsource import MAX_FILE_BYTES, format_path, parse_yaml_text, read_yaml


def test_positions_of_keys_and_values() -> None:
    doc, problems = parse_yaml_text("a:\n  - x: 1\n    y: [2, 3]\n", "f.yaml")
    assert problems == []
    assert doc.values[("a", 0, "y", 1)] == doc.position(("a", 0, "y", 1))
    assert (doc.position(("a", 0, "y", 1)).line, doc.position(("a", 0, "y", 1)).column) == (3, 12)
    assert (
        doc.position(("a", 0, "y"), at_key=True).line,
        doc.position(("a", 0, "y"), at_key=True).column,
    ) == (3, 5)


def test_missing_path_falls_back_to_nearest_ancestor() -> None:
    doc, _ = parse_yaml_text("a:\n  b: 1\n", "f.yaml")
    assert doc.position(("a", "nope", "deeper")) == doc.position(("a",))


def test_duplicate_keys_are_all_reported() -> None:
    _, problems = parse_yaml_text("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:3:1: a: duplicate key 'a' (first defined at line 1)",
        "f.yaml:4:1: b: duplicate key 'b' (first defined at line 2)",
    ]


def test_only_true_and_false_are_booleans() -> None:
    doc, _ = parse_yaml_text("on: yes\nno: off\nx: true\ny: False\ncountry: NO\n", "f.yaml")
    assert doc.data == {"on": "yes", "no": "off", "x": True, "y": False, "country": "NO"}


def test_merge_keys_work() -> None:
    doc, problems = parse_yaml_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert problems == []
    assert doc.data["other"] == {"x": 1, "y": 2}


def test_a_key_written_next_to_a_merge_overrides_the_merged_one() -> None:
    text = "a: &a {k: 1, j: 2}\nb: &b {k: 3}\nc:\n  <<: [*a, *b]\n  j: 9\n"
    doc, problems = parse_yaml_text(text, "f.yaml")
    assert problems == []
    assert doc.data["c"] == {"k": 1, "j": 9}  # as PyYAML: the first merged mapping wins
    assert doc.data["c"] == yaml.safe_load(text)["c"]


def test_a_key_written_twice_next_to_a_merge_is_still_a_duplicate() -> None:
    _, problems = parse_yaml_text("a: &a {k: 1}\nc:\n  <<: *a\n  k: 2\n  k: 3\n", "f.yaml")
    assert [p.message for p in problems] == ["duplicate key 'k' (first defined at line 4)"]


def test_alias_bomb_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    doc, problems = parse_yaml_text("\n".join(lines) + "\n", "bomb.yaml")
    assert doc.data is None
    assert "expands to more than" in problems[0].message


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    doc, problems = parse_yaml_text("[" * 5000 + "]" * 5000, "deep.yaml")
    assert doc.data is None
    assert problems[0].message == "YAML is nested too deeply"


def test_python_tags_are_refused() -> None:
    _, problems = parse_yaml_text("x: !!python/object/apply:os.system [echo hi]\n", "f.yaml")
    assert problems
    assert "unsupported YAML tag" in problems[0].message


def test_multiple_documents_are_a_syntax_error() -> None:
    doc, problems = parse_yaml_text("a: 1\n---\nb: 2\n", "f.yaml")
    assert doc.data is None
    assert problems[0].message.startswith("YAML syntax error")


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_FILE_BYTES + b"\n")
    doc, problems = read_yaml(big)
    assert doc.data is None
    assert "larger than" in problems[0].message


def test_unreadable_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    _, problems = read_yaml(tmp_path / "missing.yaml")
    assert "cannot read file" in problems[0].message


def test_format_path() -> None:
    assert (
        format_path(("objectives", 2, "check", "args", "window"))
        == "objectives[2].check.args.window"
    )
    assert format_path((0, "a")) == "[0].a"
    assert format_path(()) == ""


@given(st.text(max_size=300))
def test_any_text_gives_data_or_problems_never_an_exception(text: str) -> None:
    doc, problems = parse_yaml_text(text, "fuzz.yaml")
    assert doc.data is not None or problems


@given(st.binary(max_size=300))
def test_any_bytes_give_data_or_problems(tmp_path_factory: object, data: bytes) -> None:
    del tmp_path_factory
    path = Path("/tmp") / "labctl-yaml-fuzz.yaml"
    path.write_bytes(data)
    doc, problems = read_yaml(path)
    assert doc.data is not None or problems
