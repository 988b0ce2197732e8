"""labctl on arm64, proven on this x86-64 machine under emulation (qemu-user-static).

The images are built for arm64 (``build_images(arch="arm64")``: a debootstrapped arm64
base, wheels fetched for aarch64) under a tag of their own, then ``labctl selftest``
runs tc-replay on them: one instance up, nominal operations (mission control's command
executed, housekeeping received), the reference attack and the fix, every check. A
bundle saved with ``images save`` brings them back with their architecture. With qemu
switched off, ``labctl up`` refuses them in one line.

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
from live import REPO, labctl

from graders.live.selftest import InstancesLauncher, SelfTest
from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker import DockerBackend, hostguard
from labctl.backends.docker.arch import ARCH_LABEL, ARCHES, engine_arch
from labctl.backends.docker.baseimage import BASE_TAG, require_emulation
from labctl.backends.docker.images import (
    HOST_ROLES,
    RUNTIME,
    build_images,
    list_images,
    load_images,
    save_images,
)
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
        # The host guard runs nft from the ground-station image: under qemu-user, nft
        # cannot open its netlink socket (qemu does not emulate NETLINK_NETFILTER), so the
        # emulated run goes without it. On an arm64 machine nft runs natively.
        patch.setenv(hostguard.ENV_SWITCH, "off")
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


def test_a_saved_bundle_brings_the_arm64_images_back_with_their_architecture(
    arm64_backend: DockerBackend, tmp_path: Path
) -> None:
    client = arm64_backend.client
    bundle = tmp_path / "labctl-arm64.tar"
    saved = save_images(client, bundle)
    assert saved[0] == f"{BASE_TAG}-arm64"  # the base of the images' architecture
    assert set(saved[1:]) == {image_tag(r) for r in (RUNTIME, *HOST_ROLES)}
    client.images.remove(image_tag("spacecraft"), noprune=True)
    assert image_tag("spacecraft") in load_images(client, bundle)
    assert client.images.get(image_tag("spacecraft")).labels[ARCH_LABEL] == ARM64
    spacecraft = next(i for i in list_images(client) if i.role == "spacecraft")
    assert (spacecraft.arch, spacecraft.state) == (ARM64, "current")


BINFMT_ENTRY = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")


@pytest.fixture
def without_emulation() -> Iterator[None]:
    """qemu-aarch64 switched off in the kernel for the test, then on again: the engine on
    this machine then runs amd64 programs only."""
    if not os.access(BINFMT_ENTRY, os.W_OK):
        pytest.skip(f"{BINFMT_ENTRY} is not writable here (needs root)")
    BINFMT_ENTRY.write_text("0")
    try:
        yield
    finally:
        BINFMT_ENTRY.write_text("1")


@pytest.mark.usefixtures("without_emulation")
def test_up_refuses_images_the_engine_cannot_run_in_one_line(
    arm64_backend: DockerBackend, tmp_path: Path
) -> None:
    student = f"arm{secrets.token_hex(3)}"
    result = labctl(tmp_path / "home", "up", "tc-replay", "--student", student, timeout=300)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "the image is for arm64, and this engine runs amd64 programs only" in lines[0]
    assert "Traceback" not in result.stderr
    assert "labctl images build --arch amd64" in result.stderr
    selector: dict[str, str | list[str] | bool] = {"label": INSTANCE_LABEL}
    made = arm64_backend.client.containers.list(all=True, filters=selector)
    assert [c.name for c in made if student in c.name] == []  # refused before creating
