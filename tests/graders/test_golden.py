"""Golden score records for every lab (see golden/make_golden.py): recorded observations
and sample reports graded again give exactly the recorded score JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import make_golden

from labctl.spec import load_lab

CASES = [(lab, case, kind) for lab in make_golden.labs() for case, kind in make_golden.PAIRS]


@pytest.mark.parametrize(("lab_id", "case", "kind"), CASES)
def test_golden_score(lab_id: str, case: str, kind: str) -> None:
    folder = make_golden.HERE / lab_id
    expected_file = folder / "expected" / f"{case}+{kind}.json"
    assert expected_file.is_file(), f"no golden record for {lab_id}: run make_golden.py --write"
    lab = load_lab(make_golden.REPO / "labs" / lab_id).spec
    got = make_golden.record(
        lab, folder / "observations" / f"{case}.json", folder / "reports" / f"{kind}.md"
    )
    assert got == json.loads(expected_file.read_text(encoding="utf-8"))


def test_the_golden_records_say_what_they_should() -> None:
    """Independent of the recorded numbers: the shape of each case."""
    for lab_id in make_golden.labs():
        folder = make_golden.HERE / lab_id / "expected"
        fixed = json.loads((folder / "fixed+good.json").read_text())
        partial = json.loads((folder / "fixed+partial.json").read_text())
        unfixed = json.loads((folder / "unfixed+wrong.json").read_text())
        broken = json.loads((folder / "broken-mission+hostile.json").read_text())
        assert fixed["points"] > partial["points"] > unfixed["points"], lab_id
        assert all(o["points"] == 0 for o in broken["objectives"] if o["requires"]), lab_id
        params = load_lab(make_golden.REPO / "labs" / lab_id).spec.parameters.values()
        # Weak passwords come from a shared word list: equal by chance, never proof of copying.
        if any(p.secret and p.type != "password" for p in params):
            assert broken["cheating_flags"] >= 1, lab_id
        assert fixed["report"]["missed_count"] == 0, lab_id
        # Copied titles and ids match every weakness but substantiate none: at most a fifth.
        stuffed = json.loads((folder / "fixed+stuffed.json").read_text())["report"]
        assert stuffed["missed_count"] == 0, lab_id
        assert not any(m["substantiated_by"] for m in stuffed["matched"]), lab_id
        assert stuffed["points"] <= 0.2 * stuffed["points_possible"], lab_id
        # The student's files name the weaknesses found, never the ones missed.
        partial_found = [title for t in partial["sparta"] for title in t["found"]]
        assert len(partial_found) <= 1, lab_id
        assert all("weaknesses" not in t for t in partial["sparta"]), lab_id
