"""The secrets report grading derives: the student's own (with the roster slot), their
peers' without the student themself."""

from __future__ import annotations

from report_samples import REPO

from graders.report.secrets import peers_secrets, secrets_of
from labctl.spec import load_lab
from labctl.spec.params import derive

LAB = load_lab(REPO / "labs" / "mc-access").spec  # a weak password: it derives with the slot


def test_own_secrets_derive_with_the_slot() -> None:
    assert secrets_of(LAB, "ada", 42, 3) == derive(LAB, "ada", "42", 3).secrets()
    assert secrets_of(LAB, "ada", 42, 3) != secrets_of(LAB, "ada", 42)


def test_peers_leave_the_student_out() -> None:
    peers = peers_secrets(LAB, {"bo": (42, None), "ada": (42, None), "cy": ("42", None)}, "ada")
    assert peers == {name: derive(LAB, name, "42").secrets() for name in ("bo", "cy")}
