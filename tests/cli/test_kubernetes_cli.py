"""``labctl k8s render`` in-process: the stream on standard output, the files of ``-o``,
one-line errors; the core it runs on has a backend that fails if anything touches it,
so no engine (and no cluster) is needed."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_env import Run, environment, invoke

from labctl.core.api import Core
from labctl.core.settings import Settings
from labctl.errors import InputError, NotFoundError

REPO = Path(__file__).resolve().parents[2]
LABS = REPO / "labs"


class NoEngine:
    """A backend that must not be used: rendering needs no engine."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"k8s render touched the backend ({name})")


@pytest.fixture
def run(tmp_path: Path) -> Any:
    def core(settings: Settings) -> Core:
        return Core(settings, backend=NoEngine())  # type: ignore[arg-type]

    env = environment(core, labs_dir=LABS, environ={"LABCTL_HOME": str(tmp_path / "home")})

    def run(*args: str) -> Run:
        return invoke(env, "k8s", "render", *args)

    return run


def test_render_writes_one_stream_to_standard_output(run: Any, tmp_path: Path) -> None:
    result = run("tc-replay", "--student", "ana", "--seed", "7")
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.out))
    assert documents[0]["kind"] == "Namespace"
    assert documents[0]["metadata"]["name"] == "labctl-tc-replay-ana"
    assert documents[0]["metadata"]["annotations"]["labctl.org/seed"] == "7"
    kinds = [d["kind"] for d in documents]
    assert kinds.count("Pod") == 5  # the gateway is Services and a policy, not a pod
    assert kinds == sorted(
        kinds,
        key=[
            "Namespace",
            "ResourceQuota",
            "LimitRange",
            "NetworkPolicy",
            "Secret",
            "ConfigMap",
            "Service",
            "Pod",
        ].index,
    )
    assert not (tmp_path / "home").exists(), "rendering records nothing"


def test_render_into_a_folder_one_file_per_kind(run: Any, tmp_path: Path) -> None:
    folder = tmp_path / "out" / "ana"
    stale = folder / "06-configmap.yaml"
    folder.mkdir(parents=True)
    stale.write_text("left by an earlier render\n")
    result = run("gs-pivot", "--student", "Ana Lima", "-o", str(folder))
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in folder.iterdir())
    assert files == [
        "01-namespace.yaml",
        "02-resourcequota.yaml",
        "03-limitrange.yaml",
        "04-networkpolicy.yaml",
        "05-secret.yaml",
        "07-service.yaml",
        "08-pod.yaml",
    ]
    assert "instance gs-pivot-ana-lima (lab gs-pivot, seed " in result.out
    for name in files:
        assert str(folder / name) in result.out
    assert "  5 Pod" in result.out
    assert stat.S_IMODE((folder / "05-secret.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "08-pod.yaml").stat().st_mode) == 0o644
    pods = list(yaml.safe_load_all((folder / "08-pod.yaml").read_text()))
    assert {p["metadata"]["name"] for p in pods} == {
        "attacker",
        "ground-station",
        "mission-control",
        "rf-link",
        "spacecraft",
    }


@pytest.mark.parametrize(
    ("args", "status", "line"),
    [
        (["nope", "--student", "ana"], NotFoundError.exit_code, "no lab named 'nope'"),
        (["tc-replya", "--student", "ana"], NotFoundError.exit_code, "did you mean 'tc-replay'"),
        (["tc-replay", "--student", "!!!"], InputError.exit_code, "no letter or digit"),
        (["tc-replay", "--student", ""], 2, "--student"),
        (["tc-replay", "--student", "a" * 60], InputError.exit_code, "shorter student name"),
        (["tc-replay"], 2, "Missing option '--student'"),
        (["tc-replay", "--student", "ana", "--seed", "-1"], 2, "--seed"),
        (["tc-replay", "--student", "ana", "-o", ""], 2, "--output"),
        (["tc-replay", "--student", "ana", "-o", str(REPO / "README.md")], 2, "is a file"),
    ],
)
def test_bad_input_is_one_line(run: Any, args: list[str], status: int, line: str) -> None:
    result = run(*args)
    assert result.exit_code == status, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert line in lines[0]
    assert "Traceback" not in result.output


def test_an_unwritable_folder_is_one_line(run: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("tc-replay", "--student", "ana", "-o", str(blocker / "sub"))
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"error: cannot make {blocker / 'sub'}: Not a directory"
    ]
