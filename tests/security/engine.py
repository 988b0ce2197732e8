"""A second Docker engine for one test, isolated from the machine's own (issue 12's engine
restart; issue 17's swarm worker can reuse it).

The engine runs in a network namespace of its own (``ip netns add``), with its own
``--data-root``, ``--exec-root``, ``--pidfile``, socket (``unix:///run/<tag>.sock``) and
cgroup parent, and manages its own containerd. Its iptables rules, bridges, published
ports and the host guard's nftables table all live in that namespace: nothing it does
touches the machine's engine, its networks or its firewall. Programs that must see the
engine's published ports (``127.0.0.1:PORT``) or its firewall run in the namespace too:
:meth:`SecondEngine.in_netns` prefixes a command for that.

Why ``nsenter --net`` and not ``ip netns exec``: ``ip netns exec`` also makes a new mount
namespace with a fresh ``/sys``, where the cgroup hierarchies are not mounted, and
dockerd then refuses to start ("Devices cgroup isn't mounted"). ``nsenter --net`` enters
only the network namespace, so the engine's overlay mounts are the machine's: the teardown
unmounts them.

:func:`second_engine` is the whole life: start, yield, then stop the engine (SIGTERM, then
SIGKILL), kill whatever is left in its cgroup, unmount everything under its data and exec
roots, remove them, its socket and its namespace, also when the test failed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

#: The engine's state goes beside the machine's (same file system: overlay2 works there).
DATA_PARENT = Path("/var/lib")
RUN_PARENT = Path("/run")
CGROUP_ROOT = Path("/sys/fs/cgroup")
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30


@dataclass
class SecondEngine:
    """One extra dockerd; ``tag`` names everything it owns."""

    tag: str
    extra_args: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def netns(self) -> str:
        return self.tag

    @property
    def data_root(self) -> Path:
        return DATA_PARENT / self.tag

    @property
    def exec_root(self) -> Path:
        return RUN_PARENT / self.tag

    @property
    def socket(self) -> Path:
        return RUN_PARENT / f"{self.tag}.sock"

    @property
    def pidfile(self) -> Path:
        return self.exec_root / "dockerd.pid"

    @property
    def log(self) -> Path:
        return RUN_PARENT / f"{self.tag}.log"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def in_netns(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run in the engine's network namespace (its loopback, its firewall)."""
        return ["nsenter", f"--net=/run/netns/{self.netns}", *argv]

    def dockerd_argv(self) -> list[str]:
        return self.in_netns(
            [
                "dockerd",
                f"--data-root={self.data_root}",
                f"--exec-root={self.exec_root}",
                f"--pidfile={self.pidfile}",
                f"--host={self.docker_host}",
                f"--cgroup-parent=/{self.tag}",
                "--iptables=true",
                *self.extra_args,
            ]
        )

    def client(self, timeout: int = 120) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.docker_host, timeout=timeout)

    # -- life ---------------------------------------------------------------------------

    def create(self) -> None:
        """The namespace (loopback up) and the engine's folders."""
        _run(["ip", "netns", "add", self.netns])
        _run(["ip", "netns", "exec", self.netns, "ip", "link", "set", "lo", "up"])
        self.data_root.mkdir(mode=0o700)
        self.exec_root.mkdir(mode=0o700)

    def start(self) -> float:
        """Start dockerd and wait until it answers; the seconds it took."""
        began = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.dockerd_argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = began + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd {self.tag} exited: {self.tail()}")
            if self.answers():
                return time.monotonic() - began
            time.sleep(0.25)
        raise RuntimeError(
            f"dockerd {self.tag} did not answer in {START_TIMEOUT_S} s: {self.tail()}"
        )

    def stop(self) -> float:
        """SIGTERM dockerd (it stops its containers and its containerd) and wait; SIGKILL
        after STOP_TIMEOUT_S. The seconds it took."""
        began = time.monotonic()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return 0.0
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return time.monotonic() - began

    def restart(self) -> tuple[float, float]:
        """The engine's own restart: stop, then start with the same arguments."""
        return self.stop(), self.start()

    def answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            client = self.client(timeout=10)  # asks the engine its API version
        except (docker.errors.DockerException, OSError):
            return False
        try:
            return bool(client.ping())
        except (docker.errors.DockerException, OSError):
            return False
        finally:
            client.close()

    def tail(self, lines: int = 20) -> str:
        with suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def destroy(self) -> list[str]:
        """Everything the engine owned, gone; what could not be removed (empty: all)."""
        problems: list[str] = []
        with suppress(Exception):
            self._remove_containers()
        self.stop()
        self._kill_leftover_processes()
        for mount in _mounts_under((self.data_root, self.exec_root)):
            result = subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
            if result.returncode != 0:
                problems.append(f"umount {mount}: {result.stderr.decode().strip()}")
        for path in (self.data_root, self.exec_root):
            shutil.rmtree(path, ignore_errors=True)
            if path.exists():
                problems.append(f"{path} is still there")
        for path in (self.socket, self.log):
            path.unlink(missing_ok=True)
        self._remove_cgroups(problems)
        netns = subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        if netns.returncode != 0 and Path(f"/run/netns/{self.netns}").exists():
            problems.append(f"ip netns del {self.netns}: {netns.stderr.decode().strip()}")
        return problems

    def _remove_containers(self) -> None:
        """On our own engine, everything is ours: remove it while dockerd still answers."""
        if self.process is None or not self.answers():
            return
        client = self.client(timeout=60)
        try:
            for container in client.containers.list(all=True):
                with suppress(docker.errors.DockerException):
                    container.remove(force=True)
        finally:
            client.close()

    def _kill_leftover_processes(self) -> None:
        """containerd and shims of this engine (named by its exec root), then every
        process left in its cgroup (containers whose shim died)."""
        marker = str(self.exec_root).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with suppress(OSError):
                if marker in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
        for procs in _cgroup_dirs(self.tag):
            with suppress(OSError):
                for pid in (procs / "cgroup.procs").read_text().split():
                    with suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)

    def _remove_cgroups(self, problems: list[str]) -> None:
        deadline = time.monotonic() + 10
        for top in _cgroup_dirs(self.tag):
            for folder in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if folder.is_dir():
                    _rmdir_when_empty(folder, deadline)
            if not _rmdir_when_empty(top, deadline):
                problems.append(f"cgroup {top} is still there")


@contextmanager
def second_engine(extra_args: Sequence[str] = ()) -> Iterator[SecondEngine]:
    """A started second engine, destroyed afterwards however the block ends."""
    engine = SecondEngine(f"labctl-engine-{uuid.uuid4().hex[:8]}", extra_args)
    try:
        engine.create()
        engine.start()
        yield engine
    finally:
        problems = engine.destroy()
        assert not problems, f"the test engine {engine.tag} left: {problems}"


def copy_images(source: docker.DockerClient, target: docker.DockerClient, names: list[str]) -> None:
    """``docker save`` of ``names`` on ``source`` streamed into ``target``'s ``load``
    (the Engine API's /images/get with several names: shared layers once; no file)."""
    api: Any = source.api  # labctl.backends.docker.images.save_images does the same
    response = api._get(api._url("/images/get"), params={"names": names}, stream=True)
    api._raise_for_status(response)
    loader: Any = target.api
    for event in loader.load_image(response.iter_content(chunk_size=1 << 20)):
        if "error" in event:
            raise RuntimeError(f"loading {names} into the test engine: {event['error']}")


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.decode().strip()}")


def _mounts_under(roots: tuple[Path, ...]) -> list[str]:
    """Mount points under ``roots``, deepest first (from /proc/self/mountinfo)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def _cgroup_dirs(tag: str) -> list[Path]:
    """The engine's cgroup parent in each hierarchy (v1: one per controller; v2: one)."""
    if not CGROUP_ROOT.is_dir():
        return []
    found = [CGROUP_ROOT / tag] + [c / tag for c in CGROUP_ROOT.iterdir() if c.is_dir()]
    return [path for path in found if path.is_dir()]


def _rmdir_when_empty(folder: Path, deadline: float) -> bool:
    while True:
        try:
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
