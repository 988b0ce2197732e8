"""labctl on arm64, proven on this x86-64 machine under emulation (qemu-user-static).

The images are built for arm64 (``build_images(arch="arm64")``: a debootstrapped arm64
base, wheels fetched for aarch64) under a tag of their own, then ``labctl selftest``
runs tc-replay on them: one instance up, nominal operations (mission control's command
executed, housekeeping received), the reference attack and the fix, every check.

Collected only with LABCTL_ARM64=1 (``.ci/run`` sets it and installs qemu-user-static):
the emulated build and run take minutes (docs/arm64.md gives the figures).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from live import REPO

from graders.live.selftest import InstancesLauncher, SelfTest
from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker import DockerBackend
from labctl.backends.docker.arch import ARCH_LABEL, ARCHES, engine_arch
from labctl.backends.docker.baseimage import require_emulation
from labctl.backends.docker.images import HOST_ROLES, RUNTIME, build_images, list_images
from labctl.backends.profiles import IMAGE_TAG_VARIABLE, image_tag
from labctl.errors import BackendError
from labctl.instances import Instances, InstanceStore
from labctl.spec import load_lab

pytestmark = [pytest.mark.docker, pytest.mark.arm64]

ARM64 = "arm64"


@pytest.fixture(scope="module")
def arm64_backend(docker_client: docker.DockerClient) -> Iterator[DockerBackend]:
    """arm64 images under a tag of this run's own, removed afterwards (their layers stay
    in the build cache; the arm64 base image stays, as the native one does)."""
    if engine_arch(docker_client).name == ARM64:
        pytest.skip("the engine runs arm64 natively: the ordinary suite covers it")
    try:
        require_emulation(ARCHES[ARM64])
    except BackendError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and arm64 cannot be emulated: {exc}", pytrace=False)
        pytest.skip(f"arm64 cannot be emulated here: {exc}")
    tag = f"arm64-{secrets.token_hex(3)}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(IMAGE_TAG_VARIABLE, tag)
        try:
            build_images(docker_client, arch=ARM64)
            yield DockerBackend(docker_client)
        finally:
            for role in (*HOST_ROLES, RUNTIME):
                with contextlib.suppress(docker.errors.ImageNotFound):
                    docker_client.images.remove(image_tag(role), noprune=True)


def test_the_images_are_arm64_and_their_programs_run_as_aarch64(
    arm64_backend: DockerBackend,
) -> None:
    client = arm64_backend.client
    found = list_images(client)
    assert {info.role for info in found} == {RUNTIME, *HOST_ROLES}
    assert all(info.arch == ARM64 and info.state == "current" for info in found), found
    for role in (RUNTIME, "spacecraft"):
        assert client.images.get(image_tag(role)).labels[ARCH_LABEL] == ARM64
    machine = client.containers.run(
        image_tag("spacecraft"), ["uname", "-m"], entrypoint=[], network_mode="none", remove=True
    )
    assert machine.decode().strip() == "aarch64"
    program = client.containers.run(
        image_tag("spacecraft"),
        ["python", "-c", "import platform, pydantic_core; print(platform.machine())"],
        entrypoint=[],
        network_mode="none",
        remove=True,
    )
    assert program.decode().strip() == "aarch64"  # a compiled wheel for aarch64 imports


def test_tc_replay_selftest_passes_on_arm64(arm64_backend: DockerBackend, tmp_path: Path) -> None:
    manager = Instances(arm64_backend, InstanceStore(tmp_path / "db"))
    launcher = InstancesLauncher(manager, load_lab(REPO / "labs" / "tc-replay"))
    steps = SelfTest(launcher.loaded, arm64_backend, launcher).run([secrets.randbelow(2**31)], 1)
    failed = [f"{s.step}: {s.expected} / {s.observed}" for s in steps if not s.ok]
    assert not failed, "\n".join(failed)
    names = {s.step for s in steps}
    assert "reference attack (before the fix)" in names
    for objective in ("mission-flies", "telemetry-flows", "replay-executed", "replay-rejected"):
        assert any(n.startswith(f"{objective} (") for n in names), objective
    assert "down" in names
    selector: dict[str, str | list[str] | bool] = {"label": INSTANCE_LABEL}
    tags = {image_tag(role) for role in HOST_ROLES}
    left = arm64_backend.client.containers.list(all=True, filters=selector)
    assert [c.name for c in left if c.attrs["Config"]["Image"] in tags] == []
