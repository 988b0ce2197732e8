"""Image architectures without an engine: names, the engine's own, emulation checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker.errors
import pytest

from labctl.backends.docker import arch, baseimage, images
from labctl.backends.docker.arch import ARCH_LABEL, ARCHES, arch_named, engine_arch
from labctl.backends.docker.baseimage import BASE_TAG, base_tag, require_emulation
from labctl.backends.docker.images import HASH_LABEL, check_architecture, images_arch
from labctl.errors import BackendError

AMD64, ARM64 = ARCHES["amd64"], ARCHES["arm64"]


class _Containers:
    def __init__(self, client: FakeEngine) -> None:
        self.client = client

    def run(self, image: str, command: list[str], **options: Any) -> bytes:
        self.client.runs.append(image)
        if not self.client.emulates:
            raise docker.errors.ContainerError(
                None, 1, command, image, b"exec /usr/bin/true: exec format error"
            )
        assert options["network_mode"] == "none"
        assert options["remove"] is True
        return b""


class FakeEngine:
    """``info()`` and ``containers.run`` as the arch checks use them."""

    def __init__(self, machine: str = "x86_64", emulates: bool = False) -> None:
        self.machine = machine
        self.emulates = emulates
        self.infos = 0
        self.runs: list[str] = []
        self.containers = _Containers(self)

    def info(self) -> dict[str, str]:
        self.infos += 1
        return {"Architecture": self.machine}


def test_architectures_go_by_debians_name_or_the_kernels() -> None:
    assert arch_named("arm64") is ARM64
    assert arch_named("aarch64") is ARM64
    assert arch_named("AMD64") is AMD64
    assert arch_named("x86_64") is AMD64
    with pytest.raises(BackendError, match="use one of: amd64, arm64"):
        arch_named("riscv64")


def test_the_engine_is_asked_its_architecture_once_per_client() -> None:
    engine = FakeEngine("aarch64")
    client: Any = engine
    assert engine_arch(client) is ARM64
    assert engine_arch(client) is ARM64
    assert engine.infos == 1


def test_an_engine_on_an_architecture_without_images_is_named() -> None:
    client: Any = FakeEngine("s390x")
    with pytest.raises(BackendError, match="runs on s390x, which labctl has no images for"):
        engine_arch(client)


def test_the_base_image_of_another_architecture_has_its_own_tag() -> None:
    assert base_tag(AMD64, AMD64) == BASE_TAG
    assert base_tag(ARM64, AMD64) == f"{BASE_TAG}-arm64"
    assert base_tag(AMD64, ARM64) == f"{BASE_TAG}-amd64"


def test_building_for_another_architecture_needs_its_emulator(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="apt-get install qemu-user-static binfmt-support"):
        require_emulation(ARM64, tmp_path)
    (tmp_path / "qemu-aarch64").write_text("disabled\n")
    with pytest.raises(BackendError, match="update-binfmts --enable qemu-aarch64"):
        require_emulation(ARM64, tmp_path)
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/libexec/qemu\n")
    require_emulation(ARM64, tmp_path)


class _Stop(Exception):
    """Raised where debootstrap would run."""


@pytest.mark.parametrize(
    ("machine", "wanted", "emulated"),
    [("x86_64", ARM64, True), ("aarch64", ARM64, False), ("aarch64", AMD64, True)],
)
def test_the_base_is_bootstrapped_under_emulation_only_for_another_machine_than_this_one(
    monkeypatch: pytest.MonkeyPatch, machine: str, wanted: arch.Arch, emulated: bool
) -> None:
    """debootstrap runs on this machine, whatever the engine's machine is: an arm64 base
    made on an arm64 laptop for an amd64 engine needs no qemu, an amd64 one does."""
    checked: list[str] = []
    monkeypatch.setattr(baseimage, "host_machine", lambda: machine)
    monkeypatch.setattr(baseimage, "_bootstrap_tool", lambda: "/usr/sbin/debootstrap")
    monkeypatch.setattr(baseimage, "require_emulation", lambda a: checked.append(a.name))
    monkeypatch.setattr(baseimage, "debian_mirror", lambda: "http://deb.example")

    def stop(*args: Any) -> None:
        raise _Stop

    monkeypatch.setattr(baseimage, "_debootstrap", stop)
    with pytest.raises(_Stop):
        baseimage._bootstrap_and_import(Any, "t", lambda line: None, wanted)  # type: ignore[arg-type]
    assert checked == ([wanted.name] if emulated else [])


def _labels(name: str, digest: str = "h1") -> dict[str, str]:
    return {ARCH_LABEL: name, HASH_LABEL: digest}


def test_images_of_the_engines_own_architecture_cost_no_probe() -> None:
    engine = FakeEngine("x86_64")
    client: Any = engine
    check_architecture(client, {"spacecraft": _labels("amd64"), "rf-link": None})
    check_architecture(client, {"spacecraft": {HASH_LABEL: "old"}})  # made before the label
    assert engine.runs == []


def test_images_the_engine_cannot_run_are_refused_with_what_to_do() -> None:
    client: Any = FakeEngine("x86_64", emulates=False)
    with pytest.raises(BackendError) as refused:
        check_architecture(client, {"spacecraft": _labels("arm64", "no-emulator")})
    assert "the image is for arm64, and this engine runs amd64 programs only" in str(refused.value)
    assert "labctl images build --arch amd64" in str(refused.value)


def test_images_the_engine_emulates_run_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "_RUNNABLE", set())
    engine = FakeEngine("x86_64", emulates=True)
    client: Any = engine
    seen: list[str] = []
    found = {"spacecraft": _labels("arm64", "emulated")}
    check_architecture(client, found, lambda subject, message: seen.append(message))
    check_architecture(client, found, lambda subject, message: seen.append(message))
    assert len(engine.runs) == 1  # asked once per image
    assert len(seen) == 1
    assert seen[0].startswith("warning:")
    assert "under emulation" in seen[0]


def test_missing_images_are_built_for_the_architecture_of_the_others() -> None:
    assert images_arch([_labels("arm64"), None, _labels("arm64")]) == "arm64"
    assert images_arch([_labels("arm64"), _labels("amd64")]) is None
    assert images_arch([{HASH_LABEL: "x"}]) is None
    assert images_arch([None]) is None


def test_a_probe_that_the_engine_refuses_to_start_counts_as_not_runnable() -> None:
    class Refusing(FakeEngine):
        def __init__(self) -> None:
            super().__init__()

            class Start:
                def run(self, *args: object, **kwargs: object) -> None:
                    raise docker.errors.APIError("OCI runtime create failed: exec format error")

            self.containers = Start()  # type: ignore[assignment]

    client: Any = Refusing()
    assert arch.runs_foreign(client, "labctl/spacecraft:x") is False
