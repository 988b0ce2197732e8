"""Launch benchmarks: how long a student waits for labs/tc-replay, against the engine's floor.

    python bench/launch.py [--runs 3] [--idle 20] [--poll 0.5] [--no-cli] [--no-compose]
                           [--cold [--cold-base]]

Prints, in one run, side by side (each row says how it was measured):

- labctl: ``Instances.up`` → ``DockerBackend.up`` in-process (images present) until every
  host is healthy, then ``Instances.down``; and the CLI (``labctl up``/``down`` as
  subprocesses: interpreter start, imports, image check, progress display).
- floor: the same containers (labctl's own option and archive builders: same images,
  networks, volumes, limits and key files) created and started straight through the SDK,
  each host in its own thread; timed to "all running" and to "the same health commands
  pass" (each container polled in its own thread, twice a second as labctl does: ``--poll``;
  the readiness test answered from /proc as labctl does when the engine runs here).
  Also the same with the hosts created one by one, the shape of ``DockerBackend.up``.
- docker-compose: a compose file generated from the same InstancePlan, ``up -d``, then the
  floor's health polling (Debian's docker-compose 1.29 has no ``--wait``).
- memory of one idle labctl instance per host (Docker stats API: usage minus page cache).
- ``--cold``: remove labctl's runtime and host images (the base image only with
  ``--cold-base``), then time ``build_images`` and ``up``. Refused while any container uses
  those images (the engine may be shared).

Rounds interleave the paths, so drift on a shared engine hits them alike. Everything the
bench creates carries ``org.labctl.bench=<run id>`` or a per-run instance id and is removed
at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeVar

import docker
import docker.errors
import requests
import yaml
from docker.models.containers import Container
from docker.models.networks import Network

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labctl.backends.base import (  # noqa: E402
    HOST_LABEL,
    INSTANCE_LABEL,
    LAB_LABEL,
    MANAGED_LABEL,
    READY_LABEL,
    ROLE_LABEL,
    HostPlan,
    InstancePlan,
    NetworkPlan,
)
from labctl.backends.docker import DockerBackend, resource_name, volume_name  # noqa: E402
from labctl.backends.docker.baseimage import BASE_TAG, docker_client  # noqa: E402
from labctl.backends.docker.containers import _container_options  # noqa: E402
from labctl.backends.docker.files import put_files as _put_files  # noqa: E402
from labctl.backends.docker.health import ready as _ready  # noqa: E402
from labctl.backends.docker.health import ready_test  # noqa: E402
from labctl.backends.docker.images import HOST_ROLES, RUNTIME, build_images  # noqa: E402
from labctl.backends.docker.networks import (  # noqa: E402
    ACCESS_NETWORK_OPTIONS,
    LAB_NETWORK_OPTIONS,
)
from labctl.backends.profiles import image_tag  # noqa: E402
from labctl.instances import Instances, InstanceStore, instance_id, plan_instance  # noqa: E402
from labctl.instances.lifecycle import ATTACKER, PASSWORD_ENV  # noqa: E402
from labctl.instances.plan import host_roles  # noqa: E402
from labctl.instances.provision import initial_files  # noqa: E402
from labctl.spec import LoadedLab, load_lab  # noqa: E402

T = TypeVar("T")
LAB_DIR: Final = ROOT / "labs" / "tc-replay"
BENCH_LABEL: Final = "org.labctl.bench"
RUN: Final = uuid.uuid4().hex[:6]
#: labctl asks readiness twice a second (DockerBackend.poll_s).
LABCTL_POLL_S: Final = 0.5
HEALTH_TIMEOUT_S: Final = 180.0
MEMORY_GOAL_MIB: Final = 120.0
MIB: Final = 1024 * 1024
COMPOSE: Final = "docker-compose"
ENGINE_ERRORS: Final = (docker.errors.DockerException, requests.exceptions.RequestException)


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One bring-up: seconds to all running (None: not observable), to healthy, to removed."""

    running: float | None
    healthy: float
    down: float
    #: The host whose health command passed last (None: not observed one by one).
    gate: str | None = None


@dataclass
class Contender:
    name: str
    method: str
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None


@dataclass(frozen=True)
class HostMemory:
    host: str
    idle_mib: float  # usage minus page cache
    usage_mib: float  # with page cache
    peak_mib: float | None  # max_usage (cgroup v1 only), with page cache
    limit_mib: float


@dataclass
class Report:
    contenders: list[Contender]
    memory: list[HostMemory] = field(default_factory=list)
    cold: dict[str, float] | str | None = None


def elapsed(start: float) -> float:
    return time.perf_counter() - start


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, elapsed(start)


def parallel(action: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(action, items))


# --- clean-up ------------------------------------------------------------------------------


def remove_labelled(client: docker.DockerClient, label: str) -> None:
    """Remove containers (with anonymous volumes), networks and volumes carrying ``label``."""
    selector: dict[str, Any] = {"label": label}
    parallel(
        lambda c: c.remove(force=True, v=True), client.containers.list(all=True, filters=selector)
    )
    parallel(lambda n: n.remove(), client.networks.list(filters=selector))
    parallel(lambda v: v.remove(force=True), client.volumes.list(filters=selector))


@dataclass
class Leftovers:
    """What this run may have created; ``sweep`` removes all of it, carrying on past errors."""

    client: docker.DockerClient
    instance_ids: set[str] = field(default_factory=set)
    compose_projects: list[tuple[str, Path]] = field(default_factory=list)

    def sweep(self) -> None:
        for project, file in self.compose_projects:
            with suppress(OSError, subprocess.SubprocessError):
                compose(project, file, "down", "-v", "-t", "0")
        labels = [f"{BENCH_LABEL}={RUN}", *(f"{INSTANCE_LABEL}={i}" for i in self.instance_ids)]
        for label in labels:
            with suppress(*ENGINE_ERRORS):
                remove_labelled(self.client, label)


# --- labctl itself -------------------------------------------------------------------------


class StartClock:
    """A progress callback noting when the last container reported "started", and which host
    labctl found healthy last (it polls them in turn, so to within one poll)."""

    def __init__(self) -> None:
        self.last_started = 0.0
        self.last_healthy: str | None = None

    def __call__(self, subject: str, message: str) -> None:
        if message == "started":
            self.last_started = time.perf_counter()
        elif message == "healthy":
            self.last_healthy = subject


@dataclass
class LabctlInProcess:
    manager: Instances
    loaded: LoadedLab
    leftovers: Leftovers

    def once(self, student: str, before_down: Callable[[str], None] | None = None) -> Sample:
        ident = instance_id(self.loaded.id, student)
        self.leftovers.instance_ids.add(ident)
        clock, start = StartClock(), time.perf_counter()
        self.manager.up(self.loaded, student, progress=clock)
        healthy = elapsed(start)
        if before_down is not None:
            before_down(ident)
        _, down = timed(lambda: self.manager.down(ident))
        return Sample(clock.last_started - start, healthy, down, clock.last_healthy)


def labctl_cli(*argv: str, home: Path) -> None:
    env = {**os.environ, "LABCTL_HOME": str(home)}
    command = [sys.executable, "-m", "labctl", *argv]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"labctl {' '.join(argv)}: {done.stderr.strip()[-800:]}")


def cli_once(loaded: LoadedLab, student: str, home: Path, leftovers: Leftovers) -> Sample:
    ident = instance_id(loaded.id, student)
    leftovers.instance_ids.add(ident)
    _, healthy = timed(lambda: labctl_cli("up", loaded.id, "--student", student, home=home))
    _, down = timed(lambda: labctl_cli("down", ident, home=home))
    return Sample(None, healthy, down)


# --- the same plan, without labctl's orchestration ------------------------------------------


def bench_plan(loaded: LoadedLab, ident: str) -> InstancePlan:
    """The plan Instances.up makes (same environment and key files), labelled for this run."""
    plan = plan_instance(
        loaded,
        ident,
        student=ident,
        seed=0,
        environment={ATTACKER: {PASSWORD_ENV: secrets.token_urlsafe(12)}},
        files=initial_files(host_roles(loaded)),
    )
    return replace(plan, labels={**plan.labels, BENCH_LABEL: RUN})


def resource_labels(plan: InstancePlan, host: HostPlan | None = None) -> dict[str, str]:
    labels = {**plan.labels, MANAGED_LABEL: "true", INSTANCE_LABEL: plan.instance_id}
    labels[LAB_LABEL] = plan.lab
    if host is not None:
        labels |= {HOST_LABEL: host.name, ROLE_LABEL: host.role}
    return labels


def until_healthy(container: Container, poll_s: float) -> float:
    """Ask the container's readiness test (as labctl does: from /proc when the engine runs
    here) every ``poll_s`` until it passes; when it did."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while True:
        container.reload()  # as labctl does: notice a crash instead of polling until timeout
        if container.status in {"exited", "dead"} or container.attrs.get("RestartCount", 0):
            raise RuntimeError(f"{container.name} exited: {container.logs(tail=3)!r}")
        if container.status == "running" and _ready(container):
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{container.name} not healthy after {HEALTH_TIMEOUT_S:.0f} s")
        time.sleep(poll_s)


@dataclass
class Floor:
    """Raw SDK: networks in parallel, then every host (volumes, create, attach, files, start)
    in parallel; or, ``serial_create``, hosts created in turn and started in parallel, which
    is the shape of DockerBackend.up."""

    client: docker.DockerClient
    plan: InstancePlan
    poll_s: float
    serial_create: bool = False

    def up(self) -> tuple[float, float, str]:
        start = time.perf_counter()
        made = parallel(self._network, self.plan.networks)
        networks = {
            plan.name: network for plan, network in zip(self.plan.networks, made, strict=True)
        }
        if self.serial_create:
            containers = [self._create(host, networks) for host in self.plan.hosts]
            parallel(lambda c: c.start(), containers)
        else:
            containers = parallel(lambda h: started(self._create(h, networks)), self.plan.hosts)
        running = elapsed(start)
        gate = last_healthy(containers, self.poll_s)
        return running, elapsed(start), gate

    def _network(self, network: NetworkPlan) -> Network:
        options = ACCESS_NETWORK_OPTIONS if network.access else LAB_NETWORK_OPTIONS
        return self.client.networks.create(
            resource_name(self.plan.instance_id, network.name),
            driver="bridge",
            internal=not network.access,
            options=dict(options),
            labels=resource_labels(self.plan),
        )

    def _create(self, host: HostPlan, networks: Mapping[str, Network]) -> Container:
        for path in host.volumes:
            name = volume_name(self.plan.instance_id, host.name, path)
            self.client.volumes.create(name, labels=resource_labels(self.plan, host))
        first, *others = sorted(host.networks, key=lambda n: (not networks_access(self.plan, n), n))
        aliases = [] if networks_access(self.plan, first) else [host.name]
        container = self.client.containers.create(
            host.image,
            name=resource_name(self.plan.instance_id, host.name),
            network=str(networks[first].name),
            networking_config={
                str(networks[first].name): self.client.api.create_endpoint_config(aliases=aliases)
            },
            **_container_options(self.plan, host, self._labels(host)),
        )
        for network in others:
            networks[network].connect(container, aliases=[host.name])
        _put_files(container, host.files)
        return container

    def _labels(self, host: HostPlan) -> dict[str, str]:
        ready = json.dumps(ready_test(self.client, host))
        return resource_labels(self.plan, host) | {READY_LABEL: ready}

    def down(self) -> float:
        _, seconds = timed(
            lambda: remove_labelled(self.client, f"{INSTANCE_LABEL}={self.plan.instance_id}")
        )
        return seconds


def last_healthy(containers: Sequence[Container], poll_s: float) -> str:
    """Wait for every container's health command; the host that passed last."""
    passed = parallel(lambda c: until_healthy(c, poll_s), containers)
    last = max(zip(passed, containers, strict=True), key=lambda pair: pair[0])[1]
    return str(last.labels.get(HOST_LABEL, last.name))


def started(container: Container) -> Container:
    container.start()
    return container


def networks_access(plan: InstancePlan, name: str) -> bool:
    return any(n.name == name and n.access for n in plan.networks)


def floor_once(bench: Bench, ident: str, serial_create: bool = False) -> Sample:
    floor = Floor(bench.client, bench_plan(bench.loaded, ident), bench.args.poll, serial_create)
    try:
        running, healthy, gate = floor.up()
    except BaseException:
        floor.down()
        raise
    return Sample(running, healthy, floor.down(), gate)


# --- docker-compose ------------------------------------------------------------------------


def compose(project: str, file: Path, *argv: str) -> str:
    command = [COMPOSE, "--ansi", "never", "-p", project, "-f", str(file), *argv]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{COMPOSE} {' '.join(argv)}: {done.stderr.strip()[-800:]}")
    return done.stdout


def compose_unavailable() -> str | None:
    """Why docker-compose cannot be used here, or None."""
    if shutil.which(COMPOSE) is None:
        return f"{COMPOSE} is not installed (apt-get install -y docker-compose)"
    done = subprocess.run(
        [COMPOSE, "version", "--short"], check=False, capture_output=True, text=True
    )
    return None if done.returncode == 0 else f"{COMPOSE} version failed: {done.stderr.strip()}"


def write_host_files(host: HostPlan, directory: Path) -> list[str]:
    """Write ``host.files`` below ``directory`` (modes and owners kept) and return the bind
    mounts of their top entries: compose has no "write before first start"."""
    if not host.files:
        return []
    top = posixpath.commonpath([posixpath.dirname(p.rstrip("/")) for p in host.files])
    for path, spec in host.files.items():  # parents come first
        local = directory / host.name / posixpath.relpath(path, top)
        if spec.content is None:
            local.mkdir(parents=True, exist_ok=True)
        else:
            local.write_bytes(spec.content)
        os.chown(local, spec.uid, spec.gid)
        local.chmod(spec.mode)
    entries = sorted({posixpath.relpath(p, top).split("/")[0] for p in host.files})
    return [f"{directory / host.name / entry}:{top}/{entry}" for entry in entries]


def compose_service(plan: InstancePlan, host: HostPlan, mounts: list[str]) -> dict[str, Any]:
    options = _container_options(plan, host, resource_labels(plan, host))
    service: dict[str, Any] = {
        "image": host.image,
        "container_name": resource_name(plan.instance_id, host.name),
        "restart": "unless-stopped",
        "ports": [f"127.0.0.1::{port}" for port in host.published],
        "volumes": [f"{compose_volume(host, p)}:{p}" for p in host.volumes] + mounts,
        "networks": compose_attachments(plan, host),
        "tmpfs": [f"{path}:{opts}" for path, opts in host.tmpfs.items()],
        "cpus": host.limits.cpus,
    }
    for key in ("hostname", "labels", "environment", "cap_drop", "cap_add", "security_opt"):
        service[key] = options[key]
    for key in ("mem_limit", "memswap_limit", "pids_limit", "read_only", "user", "command"):
        if key in options:
            service[key] = options[key]
    if host.healthcheck is not None:
        test = ["CMD", *host.healthcheck]
        service["healthcheck"] = {"test": test, "interval": "30s", "timeout": "5s"}
        service["healthcheck"] |= {"retries": 3, "start_period": "20s"}
    return service


def compose_volume(host: HostPlan, path: str) -> str:
    return f"{host.name}-{path.strip('/').replace('/', '-')}"


def compose_attachments(plan: InstancePlan, host: HostPlan) -> dict[str, Any]:
    """The access network first (priority), as labctl attaches it; aliases on the others."""
    return {
        name: {"priority": 100} if networks_access(plan, name) else {"aliases": [host.name]}
        for name in host.networks
    }


def compose_document(plan: InstancePlan, files_dir: Path) -> dict[str, Any]:
    labels = resource_labels(plan)
    networks = {
        n.name: {
            "driver": "bridge",
            "internal": not n.access,
            "driver_opts": dict(ACCESS_NETWORK_OPTIONS if n.access else LAB_NETWORK_OPTIONS),
            "labels": labels,
        }
        for n in plan.networks
    }
    return {
        "version": "2.4",
        "services": {
            h.name: compose_service(plan, h, write_host_files(h, files_dir)) for h in plan.hosts
        },
        "networks": networks,
        "volumes": {
            compose_volume(h, p): {"labels": labels} for h in plan.hosts for p in h.volumes
        },
    }


@dataclass
class ComposeRun:
    client: docker.DockerClient
    project: str
    file: Path
    poll_s: float

    def up(self) -> tuple[float, float, str]:
        start = time.perf_counter()
        compose(self.project, self.file, "up", "-d", "--no-build")
        running = elapsed(start)
        selector: dict[str, Any] = {"label": f"com.docker.compose.project={self.project}"}
        gate = last_healthy(self.client.containers.list(all=True, filters=selector), self.poll_s)
        return running, elapsed(start), gate

    def down(self) -> float:
        # -t 0: labctl's down kills (remove force=True); compose would wait for SIGTERM.
        _, seconds = timed(lambda: compose(self.project, self.file, "down", "-v", "-t", "0"))
        return seconds


def compose_once(bench: Bench, round_: int) -> Sample:
    project = f"bench{RUN}c{round_}"
    plan = bench_plan(bench.loaded, f"{bench.loaded.id}-{project}")
    directory = bench.work / project
    directory.mkdir()
    file = directory / "docker-compose.yml"
    file.write_text(yaml.safe_dump(compose_document(plan, directory / "files"), sort_keys=False))
    bench.leftovers.compose_projects.append((project, file))
    bench.leftovers.instance_ids.add(plan.instance_id)
    run = ComposeRun(bench.client, project, file, bench.args.poll)
    running, healthy, gate = run.up()
    return Sample(running, healthy, run.down(), gate)


# --- memory and cold start -----------------------------------------------------------------


def host_memory(client: docker.DockerClient, container: Container) -> HostMemory:
    memory = client.api.stats(str(container.id), stream=False, one_shot=True)["memory_stats"]
    details = memory.get("stats", {})
    cache = details.get("cache", details.get("inactive_file", 0))  # cgroup v1, else v2
    peak = memory.get("max_usage")
    return HostMemory(
        host=str(container.labels.get(HOST_LABEL, container.name)),
        idle_mib=(memory["usage"] - cache) / MIB,
        usage_mib=memory["usage"] / MIB,
        peak_mib=peak / MIB if peak else None,
        limit_mib=memory["limit"] / MIB,
    )


def idle_memory(client: docker.DockerClient, ident: str, idle_s: float) -> list[HostMemory]:
    time.sleep(idle_s)
    containers = client.containers.list(filters={"label": f"{INSTANCE_LABEL}={ident}"})
    return sorted(parallel(lambda c: host_memory(client, c), containers), key=lambda m: m.host)


def images_in_use(client: docker.DockerClient, tags: Iterable[str]) -> list[str]:
    """Containers (anyone's) running one of ``tags``: removing it would pull it from under them."""
    ids = set()
    for tag in tags:
        with suppress(docker.errors.ImageNotFound):
            ids.add(client.images.get(tag).id)
    return [str(c.name) for c in client.containers.list(all=True) if c.attrs.get("Image") in ids]


def cold_start(
    client: docker.DockerClient, labctl: LabctlInProcess, base: bool
) -> dict[str, float] | str:
    """Remove the images, then build_images + up + down; a reason string when refused."""
    tags = [image_tag(r) for r in HOST_ROLES] + [image_tag(RUNTIME)] + ([BASE_TAG] if base else [])
    users = images_in_use(client, tags)
    if users:
        more = " ..." if len(users) > 3 else ""
        return f"refused: containers use labctl images: {', '.join(sorted(users)[:3])}{more}"
    for tag in tags:  # hosts first: they are built FROM the runtime
        with suppress(docker.errors.ImageNotFound):
            client.images.remove(tag)
    _, build = timed(lambda: build_images(client))
    sample = labctl.once(f"bench{RUN}cold")
    return {"build_images": build, "up": sample.healthy, "down": sample.down}


# --- the run -------------------------------------------------------------------------------


def contenders(args: argparse.Namespace) -> dict[str, Contender]:
    found = {
        "labctl": Contender("labctl Instances.up", "in-process, DockerBackend, until healthy"),
        "cli": Contender("labctl up (CLI)", "subprocess `python -m labctl up/down`"),
        "floor": Contender("floor: SDK parallel", "running = all started; then health cmds"),
        "serial": Contender("SDK, create in turn", "floor, but created one by one as labctl"),
        "compose": Contender("docker-compose up -d", "running = up -d returned; then health"),
    }
    if not args.cli:
        found["cli"].skipped = "--no-cli"
    if not args.compose:
        found["compose"].skipped = "--no-compose"
    elif (reason := compose_unavailable()) is not None:
        found["compose"].skipped = reason
    return found


def one_round(
    round_: int, found: dict[str, Contender], bench: Bench, report: Report, last: bool
) -> None:
    def memory(ident: str) -> None:
        report.memory = idle_memory(bench.client, ident, bench.args.idle)

    steps: dict[str, Callable[[], Sample]] = {
        "labctl": lambda: bench.labctl.once(f"bench{RUN}l{round_}", memory if last else None),
        "cli": lambda: cli_once(bench.loaded, f"bench{RUN}x{round_}", bench.work, bench.leftovers),
        "floor": lambda: floor_once(bench, f"tc-replay-bench{RUN}f{round_}"),
        "serial": lambda: floor_once(bench, f"tc-replay-bench{RUN}s{round_}", serial_create=True),
        "compose": lambda: compose_once(bench, round_),
    }
    for key, step in steps.items():
        if found[key].skipped is None:
            print(f"  round {round_ + 1}: {found[key].name} ...", flush=True)
            measure(found[key], step, bench.leftovers, tolerate=key == "compose")


def measure(
    contender: Contender, step: Callable[[], Sample], leftovers: Leftovers, tolerate: bool
) -> None:
    """Run one step; a tolerated failure (compose) skips its row, saying why, and cleans up."""
    try:
        contender.samples.append(step())
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        if not tolerate:
            raise
        contender.skipped = f"failed: {exc}"
        leftovers.sweep()


@dataclass
class Bench:
    args: argparse.Namespace
    client: docker.DockerClient
    loaded: LoadedLab
    work: Path
    leftovers: Leftovers
    labctl: LabctlInProcess


def run(bench: Bench) -> Report:
    found = contenders(bench.args)
    report = Report(list(found.values()))
    if bench.args.cold:
        print("cold start: removing labctl images, then build_images + up ...", flush=True)
        report.cold = cold_start(bench.client, bench.labctl, bench.args.cold_base)
    for round_ in range(bench.args.runs):
        one_round(round_, found, bench, report, last=round_ == bench.args.runs - 1)
    return report


# --- printing ------------------------------------------------------------------------------


def median_min(values: Sequence[float | None]) -> tuple[float, float] | None:
    present = [v for v in values if v is not None]
    return (statistics.median(present), min(present)) if present else None


def cell(pair: tuple[float, float] | None) -> str:
    return f"{pair[0]:6.2f} ({pair[1]:5.2f})" if pair else f"{'-':>14}"


def ratio(pair: tuple[float, float] | None, floor: tuple[float, float] | None) -> str:
    return f"{pair[0] / floor[0]:>8.2f}" if pair and floor else f"{'-':>8}"


def print_times(report: Report, runs: int) -> None:
    print(f"\nlabs/tc-replay bring-up, {runs} round(s): seconds, median (min)")
    print(f"{'path':<24}{'running':>15}{'healthy':>15}{'down':>15}{'up x':>8}{'down x':>8}")
    floor = next(c for c in report.contenders if c.name.startswith("floor"))
    floor_up = median_min([s.healthy for s in floor.samples])
    floor_down = median_min([s.down for s in floor.samples])
    for c in report.contenders:
        if c.skipped is not None:
            print(f"{c.name:<24}  skipped: {c.skipped}")
            continue
        up, down = (
            median_min([s.healthy for s in c.samples]),
            median_min([s.down for s in c.samples]),
        )
        line = f"{c.name:<24}{cell(median_min([s.running for s in c.samples])):>15}"
        print(f"{line}{cell(up):>15}{cell(down):>15}{ratio(up, floor_up)}{ratio(down, floor_down)}")
    print("(x = median ratio to the floor; lower is faster)")
    for c in report.contenders:
        gates = Counter(s.gate for s in c.samples if s.gate)
        last = ", ".join(f"{host} {n}/{len(c.samples)}" for host, n in gates.most_common())
        print(f"  {c.name:<24}{c.method}" + (f"; healthy last: {last}" if last else ""))


def print_memory(memory: list[HostMemory], idle_s: float) -> None:
    if not memory:
        return
    print(f"\nMemory of one idle labctl instance after {idle_s:.0f} s (Docker stats API), MiB")
    print(f"{'host':<18}{'idle':>8}{'+cache':>9}{'peak':>9}{'limit':>8}")
    for m in memory:
        peak = f"{m.peak_mib:9.1f}" if m.peak_mib is not None else f"{'n/a':>9}"
        print(f"{m.host:<18}{m.idle_mib:8.1f}{m.usage_mib:9.1f}{peak}{m.limit_mib:8.0f}")
    total = sum(m.idle_mib for m in memory)
    verdict = "within" if total < MEMORY_GOAL_MIB else "OVER"
    peaks = sum(m.peak_mib or 0.0 for m in memory)
    print(f"{'total':<18}{total:8.1f}{sum(m.usage_mib for m in memory):9.1f}{peaks:9.1f}")
    print(
        "idle = usage - page cache; peak = max_usage incl. cache (cgroup v1; the total is the "
        "sum of the hosts' peaks, not one moment's)\n"
        f"idle total against the goal of < {MEMORY_GOAL_MIB:.0f} MiB per instance: {verdict}"
    )


def print_cold(cold: dict[str, float] | str | None) -> None:
    if cold is None:
        print("\nCold start: not run (--cold; takes minutes)")
    elif isinstance(cold, str):
        print(f"\nCold start: {cold}")
    else:
        total = cold["build_images"] + cold["up"]
        print("\nCold start (labctl images removed, wheelhouse and base image kept)")
        print(
            f"  build_images {cold['build_images']:7.1f} s + up {cold['up']:5.1f} s "
            f"= {total:7.1f} s to healthy; down {cold['down']:.1f} s"
        )


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="rounds (each path once per round)")
    parser.add_argument(
        "--poll", type=float, default=LABCTL_POLL_S, help="health poll of floor and compose (s)"
    )
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds before stats")
    parser.add_argument("--no-cli", dest="cli", action="store_false", help="skip the CLI row")
    parser.add_argument("--no-compose", dest="compose", action="store_false")
    parser.add_argument("--cold", action="store_true", help="remove labctl images, time rebuild")
    parser.add_argument("--cold-base", action="store_true", help="with --cold: the base too")
    return parser.parse_args()


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupted)
    client, loaded = docker_client(), load_lab(LAB_DIR)
    leftovers = Leftovers(client)
    print(
        f"run {RUN}: {BENCH_LABEL}={RUN}, Docker {client.version()['Version']}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix=f"labctl-bench-{RUN}-") as tmp:
        work = Path(tmp)
        manager = Instances(DockerBackend(client), InstanceStore(work / "labctl.db"))
        labctl = LabctlInProcess(manager, loaded, leftovers)
        try:
            report = run(Bench(args, client, loaded, work, leftovers, labctl))
        finally:
            leftovers.sweep()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other users' work skews figures)")
    print_times(report, args.runs)
    print_memory(report.memory, args.idle)
    print_cold(report.cold)


if __name__ == "__main__":
    main()
