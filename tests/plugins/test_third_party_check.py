"""A check from another package, installed through pip, is validated by the loader and
graded by the same registry; a clash or a broken plugin is one clear line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from probe_fakes import FakeProbe
from third_party import DEMO_SOURCE, REPO, install_demo, lab_with_demo, on_path

from graders.checks.base import Status
from graders.live.run import run_objective
from labctl.errors import SpecError
from labctl.spec import load_lab
from labctl.spec.vocabulary import VocabularyError, default_vocabulary


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_demo(tmp_path_factory.mktemp("plugins") / "site")


def test_the_loader_validates_and_the_runner_grades_a_third_party_check(
    demo_site: Path, tmp_path: Path
) -> None:
    lab_dir = lab_with_demo(tmp_path)
    with on_path(demo_site):
        entry = default_vocabulary().checks.get("demo_truth_has")
        assert entry is not None
        assert "labctl-demo-check" in entry.source
        loaded = load_lab(lab_dir)
        objective = next(o for o in loaded.spec.objectives if o.id == "demo-truth-has")
        result = run_objective(objective, FakeProbe())
        assert result.status is Status.PASS, result.evidence
        assert "executed_commands" in result.evidence
        # A third-party check fails closed too: what it cannot observe is an error.
        down = run_objective(objective, FakeProbe(unreachable=True))
        assert down.status is Status.ERROR
        assert "could not observe" in down.evidence


def test_without_the_package_the_lab_names_an_unknown_check(tmp_path: Path) -> None:
    default_vocabulary.cache_clear()
    with pytest.raises(SpecError, match="unknown check 'demo_truth_has'"):
        load_lab(lab_with_demo(tmp_path))


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    source = tmp_path / "source"
    shutil.copytree(DEMO_SOURCE, source)
    module = source / "labctl_demo_check.py"
    module.write_text(module.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return install_demo(tmp_path / "site", source)


def test_a_third_party_check_named_like_a_builtin_is_a_one_line_error(tmp_path: Path) -> None:
    site = _variant(tmp_path, '"demo_truth_has"', '"replay_rejected"')
    with on_path(site), pytest.raises(VocabularyError) as caught:
        default_vocabulary()
    message = caught.value.one_line()
    assert "\n" not in message
    assert re.search(r"check 'replay_rejected' from plugin 'demo' .*labctl-demo-check", message)
    assert "clashes with the one from plugin 'builtin'" in message


def test_a_plugin_that_does_not_import_is_reported_by_name(tmp_path: Path) -> None:
    site = _variant(tmp_path, "from pydantic import Field", "from pydantic import NoSuchName")
    with on_path(site), pytest.raises(VocabularyError) as caught:
        default_vocabulary()
    message = caught.value.one_line()
    assert "\n" not in message
    assert "plugin 'demo' (labctl_demo_check:CHECKS" in message
    assert "does not load: ImportError" in message


def test_the_docs_show_exactly_the_package_the_test_installs() -> None:
    guide = (REPO / "docs" / "lab-format.md").read_text(encoding="utf-8")
    for name in ("pyproject.toml", "labctl_demo_check.py"):
        assert (DEMO_SOURCE / name).read_text(encoding="utf-8").strip() in guide, name
