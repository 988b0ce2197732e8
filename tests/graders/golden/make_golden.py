"""Golden score records for every lab: recorded observations x sample reports -> score JSON.

    python tests/graders/golden/make_golden.py           # compare (what the test does)
    python tests/graders/golden/make_golden.py --write   # (re)write the fixtures

Per lab folder ``tests/graders/golden/<lab>/``:

- ``observations/<case>.json``: every checked objective's verdict and evidence, as a live
  grading run would record them — ``fixed`` (attack done, fix in, mission flying),
  ``unfixed`` (attack done, nothing fixed), ``broken-mission`` (the "fix" stopped
  operations: availability fails, remediation checks pass).
- ``reports/<kind>.md``: ``good`` (every injected weakness, right ids, the student's own
  secrets in the evidence), ``partial`` (the first weakness only, no CVSS, no evidence),
  ``wrong`` (wrong component, CWE and technique), ``hostile`` (markup everywhere, another
  student's secret pasted in, a Python tag), ``stuffed`` (every weakness's title and ids
  copied, CVSS and countermeasures included, but no evidence, description or
  recommendation: matched, never substantiated).
- ``expected/<case>+<kind>.json``: the score record for the pairs below.

Reports and observations are written once by ``--write`` and then reviewed like code: the
test recomputes the records from them and compares with ``expected/``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

from graders.checks.base import CheckResult, Status  # noqa: E402
from graders.report import grade_report  # noqa: E402
from graders.score import score  # noqa: E402
from labctl.spec import load_lab  # noqa: E402
from labctl.spec.models import Lab, ObjectiveKind  # noqa: E402
from labctl.spec.params import derive  # noqa: E402

STUDENT: Final = "golden-student"
PEER: Final = "golden-peer"
SEED: Final = "golden-seed-0001"
GRADED_AT: Final = "2026-01-01T00:00:00+00:00"
PAIRS: Final = (
    ("fixed", "good"),
    ("fixed", "partial"),
    ("unfixed", "wrong"),
    ("broken-mission", "hostile"),
    ("fixed", "stuffed"),
)


def labs() -> list[str]:
    return sorted(p.parent.name for p in (REPO / "labs").glob("*/lab.yaml"))


def observations(lab: Lab, case: str) -> dict[str, dict[str, str]]:
    verdicts: dict[str, dict[str, str]] = {}
    for o in lab.objectives:
        if o.check is None:
            continue
        passes = {
            "fixed": True,
            "unfixed": o.kind is not ObjectiveKind.REMEDIATION,
            "broken-mission": o.kind is not ObjectiveKind.AVAILABILITY,
        }[case]
        verdicts[o.id] = {
            "status": "pass" if passes else "fail",
            "evidence": f"{o.check.name}: {'as required' if passes else 'not as required'}",
        }
    return verdicts


def _finding(weakness: Any, evidence: str, recommendation: str) -> str:
    lines = [
        f"  - component: {weakness.component}",
        f"    title: {json.dumps(weakness.title)}",
        f"    sparta: {weakness.sparta}",
        f"    cwe: {weakness.cwe}",
    ]
    if weakness.cvss:
        lines.append(f"    cvss: {weakness.cvss}")
    lines += [
        f"    evidence: {json.dumps(evidence)}",
        f"    recommendation: {json.dumps(recommendation)}",
        f"    countermeasures: [{', '.join(weakness.countermeasures)}]",
        "    risk: {likelihood: high, impact: high, treatment: mitigate}",
    ]
    return "\n".join(lines)


PROSE: Final = """
# Audit report

## Executive summary

The assessment found weaknesses that let an attacker on the radio segment or the
corporate network act on the spacecraft without authority. Each finding below gives the
evidence we collected on our own instance and the fix we applied and verified.

## Scope

One lab instance: the spacecraft, the radio link, the ground station, mission control and
the attacker workstation, tested from the attacker workstation.

## Method

We reproduced each attack from the attacker workstation, recorded what the systems did,
applied the fix, and checked that the attack failed while operations continued.
"""


def reports(lab: Lab) -> dict[str, str]:
    own = derive(lab, STUDENT, SEED).secrets()
    peer = derive(lab, PEER, SEED).secrets()
    # A value from a shared word list is no proof of copying: paste a distinctive one.
    distinctive = [
        name
        for name, param in lab.parameters.items()
        if name in own and getattr(param, "wordlist", None) is None
    ] or list(own)
    secret = own[distinctive[0]] if distinctive else ""
    stolen = peer[distinctive[0]] if distinctive else ""
    good = [
        _finding(w, f"observed on our instance: {secret}", "Apply " + ", ".join(w.countermeasures))
        for w in lab.weaknesses
    ]
    first = lab.weaknesses[0]
    partial = [
        f"  - component: {first.component}\n    title: {json.dumps(first.title)}\n"
        f"    sparta: {first.sparta}\n    cwe: {first.cwe}"
    ]
    stuffed = [
        "\n".join(
            [
                f"  - component: {w.component}",
                f"    title: {json.dumps(w.title)}",
                f"    sparta: {w.sparta}",
                f"    cwe: {w.cwe}",
                *([f"    cvss: {w.cvss}"] if w.cvss else []),
                f"    countermeasures: [{', '.join(w.countermeasures)}]",
            ]
        )
        for w in lab.weaknesses
    ]
    headings = "".join(f"\n## {name}\n" for name in lab.report.required_sections)
    wrong = [
        "  - component: attacker\n    title: The printer has no toner\n"
        "    sparta: REC-0001\n    cwe: CWE-1\n    recommendation: Buy toner."
    ]
    hostile = (
        f"---\nlab: \"<script>alert('{lab.id}')</script>\"\nfindings:\n"
        f'  - component: "<img src=x onerror=alert(1)>"\n'
        f'    title: "<script>alert(document.cookie)</script>"\n'
        f"    evidence: {json.dumps('copied from a friend: ' + stolen + ' <iframe>')}\n"
        f'  - !!python/object/apply:os.system ["echo pwned"]\n---\n\n'
        f"# <script>alert('x')</script>\n\n## Executive summary\n\n<b>too short</b>\n"
    )

    def document(findings: list[str]) -> str:
        return (
            f"---\nlab: {lab.id}\nstudent: {STUDENT}\nfindings:\n"
            + "\n".join(findings)
            + "\n---\n"
            + PROSE
        )

    return {
        "good": document(good),
        "partial": document(partial),
        "wrong": document(wrong),
        "hostile": hostile,
        "stuffed": (
            f"---\nlab: {lab.id}\nstudent: {STUDENT}\nfindings:\n"
            + "\n".join(stuffed)
            + "\n---\n\n# Audit report\n"
            + headings
        ),
    }


def record(lab: Lab, case_file: Path, report_file: Path) -> dict[str, Any]:
    recorded = json.loads(case_file.read_text(encoding="utf-8"))
    results = {k: CheckResult(Status(v["status"]), v["evidence"]) for k, v in recorded.items()}
    own = derive(lab, STUDENT, SEED).secrets()
    peers = {PEER: derive(lab, PEER, SEED).secrets()}
    graded = grade_report(lab, report_file.read_bytes(), own, peers)
    result = score(
        lab, results, graded, instance=f"{lab.id}-{STUDENT}", student=STUDENT, graded_at=GRADED_AT
    )
    data = result.record()
    data["cheating_flags"] = len(graded.cheating)
    return data


def write(lab_id: str) -> None:
    lab = load_lab(REPO / "labs" / lab_id).spec
    folder = HERE / lab_id
    for sub in ("observations", "reports", "expected"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for case in {c for c, _ in PAIRS}:
        text = json.dumps(observations(lab, case), indent=2, sort_keys=True) + "\n"
        (folder / "observations" / f"{case}.json").write_text(text, encoding="utf-8")
    for kind, text in reports(lab).items():
        (folder / "reports" / f"{kind}.md").write_text(text, encoding="utf-8")
    for case, kind in PAIRS:
        data = record(
            lab, folder / "observations" / f"{case}.json", folder / "reports" / f"{kind}.md"
        )
        target = folder / "expected" / f"{case}+{kind}.json"
        target.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main() -> int:
    if "--write" in sys.argv[1:]:
        for lab_id in labs():
            write(lab_id)
            print(f"wrote {HERE / lab_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
