"""arm64 under emulation against the engine's own architecture, side by side.

    python bench/arm64.py [--lab tc-replay] [--cold]

On an x86-64 machine with arm64 emulation on (``sudo bash scripts/engine.sh --arm64``,
docs/arm64.md), prints for the engine's own architecture and for arm64:

- build: ``build_images`` of every image under a tag of this run's own
  (``bench-<arch>-<run>``), wall time and the machine's CPU-seconds (/proc/stat: user,
  nice, system, irq, softirq over all cores). The build cache counts: layers the engine
  already holds are not built again, so a second run measures what changed (the labctl
  wheel's layers), not a cold build. ``--cold`` untags both base images first
  (``labctl/base:bookworm`` and ``labctl/base:bookworm-arm64``): each is debootstrapped
  again, and every image above it is built from scratch, for both architectures alike.
- selftest: ``labctl selftest LAB`` with one seed on those images: one instance up,
  nominal operations, the reference attack and fix, every check, down.
- the ratio arm64 / own.

The arm64 run goes without the host guard (``LABCTL_HOST_GUARD=off``): its nft cannot
open a netlink socket under qemu-user. The tags made are removed at the end, also on
failure or Ctrl-C; their layers stay in the build cache, and the base images stay.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import docker
import docker.errors

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from measure import machine_cpu_s  # noqa: E402  (bench/, beside this script)

from graders.live.selftest import InstancesLauncher, SelfTest  # noqa: E402
from labctl.backends.docker import DockerBackend, hostguard  # noqa: E402
from labctl.backends.docker.arch import ARCHES, engine_arch  # noqa: E402
from labctl.backends.docker.baseimage import (  # noqa: E402
    base_tag,
    docker_client,
    require_emulation,
)
from labctl.backends.docker.images import HOST_ROLES, RUNTIME, build_images  # noqa: E402
from labctl.backends.profiles import IMAGE_TAG_VARIABLE, image_tag  # noqa: E402
from labctl.errors import LabctlError  # noqa: E402
from labctl.instances import Instances, InstanceStore  # noqa: E402
from labctl.spec import load_lab  # noqa: E402

R = TypeVar("R")
EMULATED: Final = ARCHES["arm64"]


@dataclass(frozen=True)
class Timed:
    seconds: float
    cpu_s: float


def timed(action: Callable[[], R]) -> tuple[R, Timed]:
    start, cpu = time.perf_counter(), machine_cpu_s()
    result = action()
    return result, Timed(time.perf_counter() - start, machine_cpu_s() - cpu)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_arch(client: docker.DockerClient, lab: str, arch: str, run: str) -> tuple[Timed, Timed]:
    """(build, selftest) for ``arch`` under the tag ``bench-<arch>-<run>``."""
    switches = {IMAGE_TAG_VARIABLE: f"bench-{arch}-{run}"}
    if arch == EMULATED.name:
        switches[hostguard.ENV_SWITCH] = "off"
    with environment(**switches):
        try:
            print(f"{arch}: building the images ({switches[IMAGE_TAG_VARIABLE]})", flush=True)
            _, build = timed(lambda: build_images(client, arch=arch))
            print(f"{arch}: {build.seconds:.0f} s; selftest {lab}", flush=True)
            with tempfile.TemporaryDirectory(prefix="labctl-bench-arm64-") as state:
                backend = DockerBackend(client)
                manager = Instances(backend, InstanceStore(Path(state) / "db"))
                launcher = InstancesLauncher(manager, load_lab(REPO / "labs" / lab))
                seed = secrets.randbelow(2**31)
                steps, selftest = timed(
                    lambda: SelfTest(launcher.loaded, backend, launcher).run([seed], 1)
                )
            failed = [f"{s.step}: {s.expected} / {s.observed}" for s in steps if not s.ok]
            if failed:
                raise SystemExit(f"{arch}: the selftest failed:\n" + "\n".join(failed))
            return build, selftest
        finally:
            for role in (*HOST_ROLES, RUNTIME):
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(image_tag(role), noprune=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--lab", default="tc-replay", help="the lab whose selftest runs")
    parser.add_argument(
        "--cold", action="store_true", help="untag both base images first: cold builds"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    client = docker_client()
    native = engine_arch(client)
    if native == EMULATED:
        raise SystemExit("the engine runs arm64 natively: there is nothing to emulate")
    try:
        require_emulation(EMULATED)
    except LabctlError as exc:
        raise SystemExit(str(exc)) from None
    if args.cold:
        for arch in (native, EMULATED):
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(base_tag(arch, native), noprune=True)
    run = secrets.token_hex(3)
    figures = {arch: run_arch(client, args.lab, arch, run) for arch in (native.name, "arm64")}
    print()
    print(f"{args.lab}, one seed; machine CPU-seconds over {os.cpu_count()} cores")
    print(f"{'':<26}{native.name + ' (own)':>18}{'arm64 (qemu)':>18}{'ratio':>8}")
    for index, phase in enumerate(("images build", "selftest")):
        own, emulated = figures[native.name][index], figures["arm64"][index]
        for label, a, b in (
            (f"{phase}, wall s", own.seconds, emulated.seconds),
            (f"{phase}, CPU-s", own.cpu_s, emulated.cpu_s),
        ):
            print(f"{label:<26}{a:>18.1f}{b:>18.1f}{b / max(a, 0.1):>7.1f}x")


if __name__ == "__main__":
    main()
