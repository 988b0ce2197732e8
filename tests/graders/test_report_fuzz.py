"""Any input is graded: bytes, text and YAML shapes never raise, points stay in range."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from report_samples import REPLAY, sample, secrets

from graders.report import ReportGrade, grade_report

ALICE = secrets("alice")
PEERS = {"bob": secrets("bob")}
GOOD = sample("good.md")


def check(data: bytes | str) -> ReportGrade:
    result = grade_report(REPLAY, data, ALICE, PEERS)
    assert 0 <= result.points <= result.points_possible
    assert all(p.score is None or 0 <= p.score <= 1 for p in result.parts)
    return result


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_any_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_as_front_matter(text: str) -> None:
    check(f"---\n{text}\n---\n## Scope\n{text}")


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)
fields = st.sampled_from(
    [
        "component",
        "title",
        "sparta",
        "cwe",
        "cvss",
        "evidence",
        "recommendation",
        "countermeasures",
        "risk",
        "other",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(fields, values, max_size=9), max_size=4), values)
def test_any_yaml_shaped_findings(findings: list[dict[str, object]], lab: object) -> None:
    front = yaml.safe_dump({"lab": lab, "findings": findings}, allow_unicode=True)
    check(f"---\n{front}---\n")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(GOOD)), st.binary(max_size=64))
def test_corrupting_a_good_report(at: int, junk: bytes) -> None:
    check(GOOD[:at] + junk + GOOD[at:])


def test_deep_nesting_and_long_lines() -> None:
    check("---\nfindings: " + "[" * 5000 + "]" * 5000 + "\n---\n")
    check("---\nfindings: []\n---\n#" + " " * 500_000 + "x\n" + "<!--" * 100_000)
    check(b"---\n" + b"a: " * 300_000 + b"\n---\n")
