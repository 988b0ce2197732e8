"""What the host guard adds to every ``up`` and ``down``, beside its floor.

    python bench/hostguard.py [--runs 10]

The guard (labctl.backends.docker.hostguard) runs ``nft`` in a one-shot container on the
host's network namespace: ``protect`` when an instance comes up (one nft transaction
and a read-back), ``release`` when it goes. Printed side by side, median and worst of
``--runs``:

- floor: the same one-shot container running ``true`` (what any engine-side step of
  this shape costs: create, start, wait, logs, remove);
- protect and release of an instance's six bridges (five lab, one access), with names
  no real bridge has, removed again at the end.

Needs the ground-station image (``labctl images build``) and root on the engine's
machine for nft (the engine runs the container; labctl itself needs no privilege).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable

import docker

from labctl.backends.docker.hostguard import GUARD_ROLE, HostGuard
from labctl.backends.profiles import image_tag


def _timed(action: Callable[[], object], runs: int) -> list[float]:
    took = []
    for _ in range(runs):
        started = time.monotonic()
        action()
        took.append(time.monotonic() - started)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, choices=range(1, 101), metavar="1..100")
    runs = parser.parse_args().runs
    client = docker.from_env()
    guard = HostGuard(client)
    tag = secrets.token_hex(3)
    lab = [f"br-bench{tag}{i}" for i in range(5)]
    access = [f"br-bencha{tag}"]

    def floor() -> None:
        client.containers.run(
            image_tag(GUARD_ROLE), ["true"], entrypoint=[], network_mode="host", remove=True
        )

    rows = {"floor: one-shot container running true": _timed(floor, runs)}
    protect, release = [], []
    try:
        for _ in range(runs):
            protect += _timed(lambda: guard.protect(lab, access), 1)
            release += _timed(lambda: guard.release(lab, access), 1)
    finally:
        guard.release(lab, access)
    rows["protect (6 bridges, nft -f, read back)"] = protect
    rows["release (6 bridges)"] = release
    print(f"host guard, {runs} runs each (seconds)")
    print(f"{'':44} {'median':>8} {'worst':>8}")
    for name, took in rows.items():
        print(f"{name:44} {statistics.median(took):8.3f} {max(took):8.3f}")


if __name__ == "__main__":
    main()
