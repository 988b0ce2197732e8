"""Reading reports: front matter, lenient fields, sections, hostile bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.report import MAX_REPORT_BYTES, parse_report, read_report_file
from graders.report.model import read_finding
from graders.report.parse import MAX_FINDINGS, read_sections, strip_html_comments
from labctl.errors import NotFoundError

PROSE = " ".join(f"word{chr(97 + i % 26)}x" for i in range(40))


def report(front: str, body: str = "") -> str:
    return f"---\n{front}\n---\n{body}"


def finding(**fields: object) -> list[str]:
    return list(read_finding(1, 7, fields).problems)


# --- fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cwe"),
    [("CWE-294", "CWE-294"), ("cwe-79", "CWE-79"), (294, "CWE-294"), ("0079", "CWE-79")],
)
def test_cwe_forms_are_normalised(raw: object, cwe: str) -> None:
    assert read_finding(1, 1, {"cwe": raw}).cwe == cwe


@pytest.mark.parametrize("raw", ["CWE-", "XSS", True, ["CWE-1"], "CWE-123456"])
def test_bad_cwe_is_a_problem_not_an_error(raw: object) -> None:
    found = read_finding(1, 1, {"cwe": raw, "title": "kept"})
    assert found.cwe is None
    assert found.title == "kept"
    assert any("is not a CWE id" in p for p in found.problems)


def test_sparta_ids_are_checked_and_upper_cased() -> None:
    assert read_finding(1, 1, {"sparta": "ex-0001.01"}).sparta == "EX-0001.01"
    assert read_finding(1, 1, {"sparta": "XX-0001"}).sparta is None


def test_cvss_vector_is_scored_with_the_cvss_library() -> None:
    found = read_finding(1, 1, {"cvss": "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H"})
    assert found.cvss_score == 8.1


def test_a_bad_vector_keeps_the_finding_and_explains() -> None:
    found = read_finding(3, 12, {"title": "t", "component": "spacecraft", "cvss": "CVSS:3.1/AV:Q"})
    assert found.cvss is None
    assert found.cvss_score is None
    assert found.title == "t"
    assert found.problems[0].startswith("finding 3 (line 12): cvss: ")
    assert not any("no cvss" in p for p in found.problems)  # said once, not twice


def test_missing_fields_are_listed() -> None:
    problems = finding(title="only a title")
    for name in ("component", "sparta", "cwe", "cvss", "evidence", "recommendation"):
        assert any(f": no {name}:" in p for p in problems), name
    assert not any("no title" in p for p in problems)


def test_description_is_an_optional_text_field() -> None:
    assert read_finding(1, 1, {"description": "  how it works  "}).description == "how it works"
    assert read_finding(1, 1, {"details": "how"}).description == "how"
    assert not any("description" in p for p in finding(title="t"))  # not asked for
    long = read_finding(1, 1, {"description": "x" * 20_001})
    assert len(long.description) == 20_000
    assert any("description: longer than" in p for p in long.problems)


def test_countermeasures_as_text_or_list() -> None:
    assert read_finding(1, 1, {"countermeasures": "CM0031, cm0029"}).countermeasures == (
        "CM0031",
        "CM0029",
    )
    found = read_finding(1, 1, {"countermeasures": ["CM0031", "MFA"]})
    assert found.countermeasures == ("CM0031",)
    assert any("'MFA'" in p for p in found.problems)


def test_risk_values_are_checked() -> None:
    found = read_finding(1, 1, {"risk": {"likelihood": "HIGH", "impact": "severe", "colour": 1}})
    assert found.risk.likelihood == "high"
    assert found.risk.impact is None
    joined = "\n".join(found.problems)
    assert "impact should be one of low|medium|high, got 'severe'" in joined
    assert "unknown key 'colour'" in joined


def test_aliases_and_unknown_fields() -> None:
    found = read_finding(1, 1, {"host": "Spacecraft", "CVSS_vector": "x", "colour": "red"})
    assert found.component == "spacecraft"
    assert any("cvss:" in p for p in found.problems)
    assert any("unknown field 'colour' ignored" in p for p in found.problems)


def test_long_text_is_cut() -> None:
    found = read_finding(1, 1, {"title": "x" * 5000})
    assert len(found.title) == 300
    assert any("longer than 300 characters" in p for p in found.problems)


def test_evidence_may_be_a_list_of_lines() -> None:
    assert read_finding(1, 1, {"evidence": ["$ ls", 42]}).evidence == "$ ls\n42"


def test_html_is_kept_as_text_and_flagged() -> None:
    found = read_finding(1, 1, {"title": "<script>x</script>"})
    assert found.title == "<script>x</script>"
    assert any("HTML markup in title" in p for p in found.problems)


# --- front matter -----------------------------------------------------------------------------


def test_front_matter_and_lines() -> None:
    text = report("lab: tc-replay\nstudent: ada\nfindings:\n  - title: a\n  - title: b")
    parsed = parse_report(text)
    assert (parsed.lab, parsed.student) == ("tc-replay", "ada")
    assert [(f.number, f.line, f.title) for f in parsed.findings] == [(1, 5, "a"), (2, 6, "b")]


def test_front_matter_may_follow_blank_lines_and_close_with_dots() -> None:
    assert len(parse_report("\n\n---\nfindings: [{title: a}]\n...\n").findings) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no front matter\n", "no YAML front matter"),
        ("---\nfindings: []\n", "not closed by a line '---'"),
        ("---\n\n---\n", "the front matter is empty"),
        ("---\n- a\n- b\n---\n", "should be a mapping"),
        ("---\nfindings: {a: 1}\n---\n", "'findings' should be a list"),
        ("---\nlab: x\n---\n", "has no 'findings' list"),
        ("---\nfindings: [1, {title: a}]\n---\n", "findings[0] is not a mapping of fields"),
        ("---\nfindings: []\nfoo: 1\n---\n", "line 3: unknown front-matter key 'foo'"),
        ("---\nfindings: []\nfindings: []\n---\n", "line 3: findings: duplicate key"),
        ("---\nfindings: [\n---\n", "YAML syntax error"),
        ("---\nfindings: !!python/name:os.system\n---\n", "unsupported YAML tag"),
    ],
)
def test_broken_front_matter_is_explained(text: str, message: str) -> None:
    problems = "\n".join(parse_report(text).problems)
    assert message in problems


def test_yaml_1_2_booleans_keep_yes_and_no_as_text() -> None:
    found = parse_report(report("findings:\n  - title: no")).findings[0]
    assert found.title == "no"


def test_too_many_findings_are_cut() -> None:
    entries = "\n".join(f"  - title: t{i}" for i in range(MAX_FINDINGS + 5))
    parsed = parse_report(report(f"findings:\n{entries}"))
    assert len(parsed.findings) == MAX_FINDINGS
    assert any(f"only the first {MAX_FINDINGS}" in p for p in parsed.problems)


# --- bytes ------------------------------------------------------------------------------------


def test_not_utf8_is_replaced_with_feedback() -> None:
    parsed = parse_report(b"---\nfindings:\n  - title: caf\xe9\n---\n")
    assert parsed.findings[0].title == "caf\ufffd"
    assert parsed.problems[0].startswith("line 3: the report is not valid UTF-8")


def test_a_character_cut_by_the_size_limit_is_not_an_encoding_error() -> None:
    data = b"---\nfindings: []\n---\n" + "é".encode() * MAX_REPORT_BYTES
    parsed = parse_report(data)
    assert len(parsed.problems) == 1
    assert "larger than 1024 KiB" in parsed.problems[0]


def test_bom_crlf_and_control_characters() -> None:
    text = '\ufeff---\r\nfindings:\r\n  - title: "a\\x1b[31mred"\r\n---\r\n'
    parsed = parse_report(text.replace("\\x1b", "\x1b"))
    assert parsed.findings[0].title == "a[31mred"
    assert "\x1b" not in parsed.text
    assert parsed.problems == ("1 control character(s) were removed from the report",)


def test_read_report_file_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_bytes(b"x" * (MAX_REPORT_BYTES * 3))
    assert len(read_report_file(path)) == MAX_REPORT_BYTES + 1
    with pytest.raises(NotFoundError):
        read_report_file(tmp_path / "missing.md")


# --- sections ---------------------------------------------------------------------------------


def test_sections_count_words_of_their_subsections_but_not_headings() -> None:
    body = f"# Report\n\n## Scope\n{PROSE}\n### Detail\nthree more words\n## Method\nx\n"
    sections = {s.title: s for s in read_sections(body)}
    assert sections["Scope"].words == 43
    assert sections["Report"].words == 43  # "x" under Method is one letter: not a word
    assert sections["Detail"].words == 3
    assert sections["Method"].words == 0


def test_headings_in_code_fences_and_comments_do_not_count() -> None:
    body = "```\n# not a heading\n```\n<!--\n## Hidden\n-->\n## Shown ##\n"
    assert [s.title for s in read_sections(body)] == ["Shown"]


def test_comment_text_is_not_prose_and_line_numbers_survive() -> None:
    sections = read_sections("<!-- a\nb\nc -->\n## Scope\n<!-- not counted -->", first_line=10)
    assert (sections[0].line, sections[0].words) == (14, 0)


def test_an_unclosed_comment_runs_to_the_end() -> None:
    assert strip_html_comments("keep <!-- drop\n## Gone") == "keep "


def test_heading_needs_a_space_after_the_hashes() -> None:
    assert [s.title for s in read_sections("#hashtag\n####### seven\n## ok")] == ["ok"]
