"""Class-session benchmark: N instances of labs/tc-replay at once, their idle memory, and
grading them all, against the engine's floor.

    python bench/session.py [--count 35] [--parallel 4] [--grade-parallel 35] [--idle 20]
                            [--backend swarm]

Prints, side by side with the goals (35 instances healthy in < 60 s, < 120 MiB per
instance at idle, 35 graded in < 30 s):

- labctl: ``Instances.up`` for N students of tc-replay in a thread pool bounded by
  ``--parallel`` (the bound ``Sessions.start`` uses, default 4), timed from the first
  submission until every instance is up and healthy (``up`` returns only then).
- floor: what the engine needs for the same number of objects, through the Docker SDK,
  ``FLOOR_THREADS`` calls at a time: N × (hosts per instance) bare containers of labctl's
  runtime image running ``sleep infinity`` (no network), created and started, timed to all
  running; and N × (networks per instance) internal networks with labctl's options,
  created. An instance also has volumes, files and programs to start: a floor, not a
  like-for-like row. "labctl / floor" divides the bring-up by the two added up.
- floor, wired: the same objects wired as an instance wires them (its networks, and one
  bare container per host on that host's networks), instances ``FLOOR_THREADS`` at a
  time: the engine's work for the hosts' network namespaces, which the bare floor lacks.
- CPU: the whole machine's CPU-seconds during each phase (/proc/stat: user, nice, system,
  irq, softirq over all cores), so "CPU-bound" is a figure: on C cores a phase cannot be
  shorter than its CPU-seconds / C.
- memory: after ``--idle`` seconds, the Docker stats API once per container (no stream):
  usage minus page cache, summed per instance, and per host role across the instances.
- grading: :func:`graders.live.classgrade.grade_class` over the N instances, each
  student with the lab's sample report (``labs/tc-replay/solution/sample-report.md``),
  ``--grade-parallel`` instances at a time, each from its own vantage container; the score
  reports, class.html, grades.csv and grades.json go to a temporary folder.

- ``--backend swarm``: after the plain engine's class, the same class on the swarm this
  engine manages (labctl's swarm backend, students ``s<run>-<i>``), brought up and graded
  the same way, printed side by side (docs/swarm.md; with ``scripts/swarm-node.sh up 2``
  on two nodes).

Everything the bench creates carries a per-run instance id (``tc-replay-b<run>-<i>``) or
the label ``org.labctl.bench=<run id>``, lives in a temporary state folder, and is removed
at the end, also on failure, Ctrl-C or SIGTERM. It never touches other instances.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, TypeVar

import docker
import docker.types
from docker.models.containers import Container

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from launch import ENGINE_ERRORS, HostMemory, host_memory, remove_labelled  # noqa: E402
from measure import machine_cpu_s  # noqa: E402  (bench/, beside this script)

from graders.live.classgrade import DEFAULT_WORKERS, ClassMember, grade_class  # noqa: E402
from graders.live.target import target_of  # noqa: E402
from labctl.backends.base import (  # noqa: E402
    INSTANCE_LABEL,
    Backend,
    InstancePlan,
    MultiNode,
    get_backend,
)
from labctl.backends.docker import DockerBackend, subnets  # noqa: E402
from labctl.backends.docker.baseimage import docker_client  # noqa: E402
from labctl.backends.docker.images import RUNTIME  # noqa: E402
from labctl.backends.docker.networks import LAB_NETWORK_OPTIONS  # noqa: E402
from labctl.backends.profiles import image_tag  # noqa: E402
from labctl.errors import LabctlError  # noqa: E402
from labctl.instances import InstanceRecord, Instances, InstanceStore, instance_id  # noqa: E402
from labctl.instances.plan import plan_instance  # noqa: E402
from labctl.spec import LoadedLab, load_lab  # noqa: E402

T = TypeVar("T")
R = TypeVar("R")
LAB_DIR: Final = ROOT / "labs" / "tc-replay"
SAMPLE_REPORT: Final = LAB_DIR / "solution" / "sample-report.md"
BENCH_LABEL: Final = "org.labctl.bench"
RUN: Final = uuid.uuid4().hex[:6]
GOAL_UP_S: Final = 60.0
#: labctl's bring-up against the floor's (bare containers + networks): issue 17's bound.
GOAL_FLOOR_RATIO: Final = 1.5
GOAL_MEMORY_MIB: Final = 120.0
GOAL_GRADE_S: Final = 30.0
GOAL_COUNT: Final = 35
STATS_THREADS: Final = 8
FLOOR_THREADS: Final = 16


#: The engine's processes per container that no container's cgroup counts.
ENGINE_HELPERS: Final = ("containerd-shim", "docker-proxy")


def engine_helpers_mib() -> float:
    """Proportional set size (PSS, shared pages divided among their users) of every
    containerd shim and docker-proxy on this machine, MiB: the engine's memory per
    container (one shim each) and per published port, outside the containers' cgroups."""
    total_kib = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text(encoding="ascii").strip()
            if not name.startswith(ENGINE_HELPERS):
                continue
            rollup = (entry / "smaps_rollup").read_text(encoding="ascii")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def own_cpu_s() -> float:
    """CPU-seconds of this process (labctl's side of the work), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Timed:
    seconds: float
    cpu_s: float
    #: Of which this process (labctl itself, in-process).
    own_cpu_s: float


def timed_phase(action: Callable[[], R]) -> tuple[R, Timed]:
    start, cpu, own = time.perf_counter(), machine_cpu_s(), own_cpu_s()
    result = action()
    spent = machine_cpu_s() - cpu
    return result, Timed(time.perf_counter() - start, spent, own_cpu_s() - own)


def pool_map(action: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``action`` over ``items`` with at most ``workers`` at once; on Ctrl-C, nothing new
    starts and the running ones finish before the interrupt goes on."""
    if not items:
        return []
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))))
    try:
        futures = [pool.submit(action, item) for item in items]
        return [f.result() for f in futures]
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


@dataclass
class Leftovers:
    """What this run may have created; ``sweep`` removes all of it, carrying on past errors."""

    client: docker.DockerClient
    instance_ids: set[str] = field(default_factory=set)
    #: Instances on a swarm: removed through labctl (their services would come back).
    managers: list[Instances] = field(default_factory=list)

    def sweep(self) -> None:
        for manager in self.managers:
            for ident in sorted(self.instance_ids):
                self._down(manager, ident)
        labels = [f"{BENCH_LABEL}={RUN}", *(f"{INSTANCE_LABEL}={i}" for i in self.instance_ids)]

        def remove(label: str) -> None:
            with suppress(*ENGINE_ERRORS):
                remove_labelled(self.client, label)

        pool_map(remove, labels, STATS_THREADS)

    @staticmethod
    def _down(manager: Instances, ident: str) -> None:
        with suppress(Exception):
            if manager.store.get(ident) is not None:
                manager.down(ident)


@dataclass
class UpResult:
    seconds: float
    cpu_s: float
    own_cpu_s: float
    records: list[InstanceRecord]
    failed: dict[str, str]
    per_instance: list[float]


def bring_up(
    manager: Instances,
    loaded: LoadedLab,
    count: int,
    workers: int,
    leftovers: Leftovers,
    *,
    prefix: str = "b",
) -> UpResult:
    students = [f"{prefix}{RUN}-{i + 1}" for i in range(count)]
    for student in students:
        leftovers.instance_ids.add(instance_id(loaded.id, student))
    failed: dict[str, str] = {}
    times: list[float] = []

    def up(student: str) -> InstanceRecord | None:
        start = time.perf_counter()
        try:
            record = manager.up(loaded, student, seed=None)
        except Exception as exc:  # one failure is a figure, not the end of the bench
            failed[student] = " ".join(str(exc).split())[:200]
            return None
        times.append(time.perf_counter() - start)
        return record

    made, spent = timed_phase(lambda: pool_map(up, students, workers))
    return UpResult(
        spent.seconds,
        spent.cpu_s,
        spent.own_cpu_s,
        [r for r in made if r is not None],
        failed,
        times,
    )


@dataclass(frozen=True)
class Floor:
    containers: int
    started: Timed
    networks: int
    created: Timed
    #: The same containers and networks, wired as the instances wire them (see wired_floor).
    wired: Timed | None = None


def floor(client: docker.DockerClient, containers: int, networks: int) -> Floor:
    """The engine alone: bare runtime containers (``sleep infinity``, no network) created
    and started, then internal networks with labctl's options created (both
    ``FLOOR_THREADS`` at a time); everything removed again."""
    image = image_tag(RUNTIME)

    def start(index: int) -> Container:
        return client.containers.run(
            image,
            ["sleep", "infinity"],
            name=f"labctl-bench-{RUN}-floor-{index}",
            labels={BENCH_LABEL: RUN},
            detach=True,
            network_mode="none",
        )

    def create(indexed: tuple[int, subnets.Subnet]) -> None:
        index, subnet = indexed
        ipam = docker.types.IPAMConfig(
            pool_configs=[
                docker.types.IPAMPool(subnet=str(subnet), gateway=str(subnet.network_address + 1))
            ]
        )
        client.networks.create(
            f"labctl-bench-{RUN}-floor-{index}",
            driver="bridge",
            internal=True,
            options=dict(LAB_NETWORK_OPTIONS),
            labels={BENCH_LABEL: RUN},
            ipam=ipam,
        )

    try:
        _, started = timed_phase(lambda: pool_map(start, range(containers), FLOOR_THREADS))
        with suppress(*ENGINE_ERRORS):
            remove_labelled(client, f"{BENCH_LABEL}={RUN}")
        blocks = free_blocks(client, networks)
        _, created = timed_phase(lambda: pool_map(create, list(enumerate(blocks)), FLOOR_THREADS))
    finally:
        with suppress(*ENGINE_ERRORS):
            remove_labelled(client, f"{BENCH_LABEL}={RUN}")
    return Floor(containers, started, networks, created)


def wired_floor(client: docker.DockerClient, shape: InstancePlan, count: int) -> Timed:
    """The engine alone, wired: for each of ``count`` instances, the plan's networks
    (internal, labctl's options) and one bare container per host (``sleep infinity``)
    attached to that host's networks as the plan attaches them, created, connected and
    started; instances ``FLOOR_THREADS`` at a time. What labctl adds on top of this is its
    own: volumes, files, programs, the host guard, readiness, injects."""
    image = image_tag(RUNTIME)
    blocks = free_blocks(client, len(shape.networks) * count)

    def instance(index: int) -> None:
        prefix = f"labctl-bench-{RUN}-wired-{index}"
        mine = blocks[index * len(shape.networks) : (index + 1) * len(shape.networks)]
        for network, subnet in zip(shape.networks, mine, strict=True):
            gateway = str(subnet.network_address + 1)
            client.networks.create(
                f"{prefix}-{network.name}",
                driver="bridge",
                internal=True,
                options=dict(LAB_NETWORK_OPTIONS),
                labels={BENCH_LABEL: RUN},
                ipam=docker.types.IPAMConfig(
                    pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)]
                ),
            )
        for host in shape.hosts:
            attached = [f"{prefix}-{name}" for name in host.networks]
            container = client.containers.create(
                image,
                ["sleep", "infinity"],
                name=f"{prefix}-{host.name}",
                labels={BENCH_LABEL: RUN},
                network=attached[0] if attached else None,
                network_mode=None if attached else "none",
            )
            for name in attached[1:]:
                client.networks.get(name).connect(container)
            container.start()

    try:
        _, wired = timed_phase(lambda: pool_map(instance, range(count), FLOOR_THREADS))
    finally:
        with suppress(*ENGINE_ERRORS):
            remove_labelled(client, f"{BENCH_LABEL}={RUN}")
    return wired


def free_blocks(client: docker.DockerClient, count: int) -> list[subnets.Subnet]:
    """``count`` /27 blocks of labctl's pool that no network uses."""
    used = subnets.parse_used(
        str(config.get("Subnet", ""))
        for network in client.api.networks()
        for config in ((network.get("IPAM") or {}).get("Config") or [])
    )
    chosen: list[subnets.Subnet] = []
    for _ in range(count):
        chosen.append(subnets.free_subnet([*used, *chosen], subnets.pool()))
    return chosen


@dataclass(frozen=True)
class Memory:
    per_instance: list[float]  # idle MiB, summed over each instance's containers
    per_host: dict[str, list[HostMemory]]
    #: CPU-seconds per second of the whole machine while the instances idled.
    idle_cpu_share: float
    #: The engine's shims and port proxies per instance (PSS growth / instances), MiB.
    engine_mib: float


def idle_memory(
    client: docker.DockerClient, ids: Sequence[str], idle_s: float, engine_before_mib: float
) -> Memory:
    _, idle = timed_phase(lambda: time.sleep(idle_s))
    engine_mib = (engine_helpers_mib() - engine_before_mib) / max(1, len(ids))

    def of_instance(ident: str) -> list[HostMemory]:
        containers = client.containers.list(filters={"label": f"{INSTANCE_LABEL}={ident}"})
        return [host_memory(client, c) for c in containers]

    measured = pool_map(of_instance, list(ids), STATS_THREADS)
    per_host: dict[str, list[HostMemory]] = defaultdict(list)
    for hosts in measured:
        for m in hosts:
            per_host[m.host].append(m)
    return Memory(
        [sum(m.idle_mib for m in hosts) for hosts in measured],
        dict(per_host),
        idle.cpu_s / idle.seconds,
        engine_mib,
    )


@dataclass(frozen=True)
class GradeResult:
    seconds: float
    cpu_s: float
    own_cpu_s: float
    graded: int
    students: int
    mean_points: float | None
    points_possible: int
    notes: list[str]


def grade(
    backend: Backend,
    loaded: LoadedLab,
    records: Sequence[InstanceRecord],
    work: Path,
    workers: int,
) -> GradeResult:
    reports = work / f"reports-{backend.name}"
    reports.mkdir()
    members = []
    for record in records:
        shutil.copyfile(SAMPLE_REPORT, reports / f"{record.student}.md")
        target = target_of(loaded, record)
        members.append(ClassMember(record.student, target))
    graded, spent = timed_phase(
        lambda: grade_class(
            backend,
            loaded,
            members,
            session=f"bench-{RUN}-{backend.name}",
            output=work / f"grades-{backend.name}",
            reports_dir=reports,
            workers=workers,
        )
    )
    scores = [o.score for o in graded.outcomes if o.score is not None]
    return GradeResult(
        spent.seconds,
        spent.cpu_s,
        spent.own_cpu_s,
        len(scores),
        len(members),
        statistics.fmean(s.points for s in scores) if scores else None,
        scores[0].points_possible if scores else 0,
        [f"{o.member.student}: {'; '.join(o.notes)}" for o in graded.outcomes if not o.graded],
    )


# --- output --------------------------------------------------------------------------------


def verdict(value: float, goal: float, scaled: bool) -> str:
    mark = "within" if value < goal else "OVER"
    return f"{mark}{' (goal is for 35)' if scaled else ''}"


def cpu_cell(cpu_s: float, per: int) -> str:
    return f"{cpu_s:8.1f} CPU-s" + (f" ({cpu_s / per:.1f}/instance)" if per > 1 else "")


def print_table(
    args: argparse.Namespace, up: UpResult, floors: Floor, memory: Memory, graded: GradeResult
) -> None:
    n = args.count
    scaled = n != GOAL_COUNT
    per = memory.per_instance
    floor_s = floors.started.seconds + floors.created.seconds
    mean_mib = statistics.fmean(per) if per else 0.0
    cores = os.cpu_count() or 1
    per_up = f"{up.cpu_s / max(1, len(up.records)):.1f} CPU-s/instance"
    per_grade = f"{graded.cpu_s / max(1, graded.students):.1f} CPU-s/instance"
    print(f"\nlabs/tc-replay, {n} instance(s); --parallel {args.parallel}; {cores} cores")
    print(f"{'what':<46}{'figure':>14}  {'goal':<12}verdict")
    rows = [
        (
            f"labctl: {len(up.records)}/{n} instances up and healthy",
            f"{up.seconds:8.1f} s",
            f"< {GOAL_UP_S:.0f} s",
            verdict(up.seconds, GOAL_UP_S, scaled),
        ),
        ("  CPU of the whole machine meanwhile", f"{up.cpu_s:8.1f} CPU-s", "-", per_up),
        ("    of which labctl's own process", f"{up.own_cpu_s:8.1f} CPU-s", "-", "-"),
        (
            f"floor: {floors.containers} bare containers running (SDK)",
            f"{floors.started.seconds:8.1f} s",
            "-",
            f"{floors.started.cpu_s:.1f} CPU-s",
        ),
        (
            f"floor: {floors.networks} internal networks created (SDK)",
            f"{floors.created.seconds:8.1f} s",
            "-",
            f"{floors.created.cpu_s:.1f} CPU-s",
        ),
        (
            f"  labctl / floor (containers + networks, {floor_s:.1f} s)",
            f"{up.seconds / floor_s:8.2f} x" if floor_s else "-",
            f"<= {GOAL_FLOOR_RATIO:.1f} x",
            verdict(up.seconds / floor_s, GOAL_FLOOR_RATIO, scaled) if floor_s else "-",
        ),
        *(
            [
                (
                    f"floor, wired: {n} x {floors.containers // max(1, n)} hosts on their networks",
                    f"{floors.wired.seconds:8.1f} s",
                    "-",
                    f"{floors.wired.cpu_s:.1f} CPU-s; "
                    f"labctl {up.seconds / floors.wired.seconds:.2f} x",
                )
            ]
            if floors.wired is not None and floors.wired.seconds
            else []
        ),
        (
            "  one instance's up, median (min-max)",
            f"{statistics.median(up.per_instance):8.1f} s" if up.per_instance else "-",
            "-",
            f"({min(up.per_instance):.1f}-{max(up.per_instance):.1f})" if up.per_instance else "-",
        ),
        (
            f"idle memory per instance after {args.idle:.0f} s, mean",
            f"{mean_mib:8.1f} MiB",
            f"< {GOAL_MEMORY_MIB:.0f} MiB",
            verdict(mean_mib, GOAL_MEMORY_MIB, False) + (f" (max {max(per):.1f})" if per else ""),
        ),
        (
            "  + the engine's shims and proxies (PSS)",
            f"{mean_mib + memory.engine_mib:8.1f} MiB",
            f"< {GOAL_MEMORY_MIB:.0f} MiB",
            verdict(mean_mib + memory.engine_mib, GOAL_MEMORY_MIB, False),
        ),
        (
            f"grading {graded.graded}/{graded.students} with reports",
            f"{graded.seconds:8.1f} s",
            f"< {GOAL_GRADE_S:.0f} s",
            verdict(graded.seconds, GOAL_GRADE_S, scaled),
        ),
        ("  CPU of the whole machine meanwhile", f"{graded.cpu_s:8.1f} CPU-s", "-", per_grade),
        ("    of which labctl's own process", f"{graded.own_cpu_s:8.1f} CPU-s", "-", "-"),
        (
            f"idle CPU of {len(per)} instance(s) over {args.idle:.0f} s",
            f"{memory.idle_cpu_share * 100:8.1f} %",
            "-",
            "of one core",
        ),
    ]
    for what, figure, goal, mark in rows:
        print(f"{what:<46}{figure:>14}  {goal:<12}{mark}")
    if graded.mean_points is not None:
        print(f"  mean score {graded.mean_points:g} / {graded.points_possible} points")
    for note in graded.notes:
        print(f"  not graded: {note}")
    for student, error in up.failed.items():
        print(f"  up failed: {student}: {error}")
    print(f"\nIdle memory per host, MiB over {len(per)} instance(s) (usage - page cache)")
    print(f"{'host':<18}{'mean':>8}{'min':>8}{'max':>8}{'limit':>8}")
    for host, items in sorted(memory.per_host.items()):
        values = [m.idle_mib for m in items]
        print(
            f"{host:<18}{statistics.fmean(values):8.1f}{min(values):8.1f}{max(values):8.1f}"
            f"{items[0].limit_mib:8.0f}"
        )
    print(
        f"{'instance total':<18}{mean_mib:8.1f}{min(per, default=0):8.1f}{max(per, default=0):8.1f}"
    )
    print(
        f"{'+ engine helpers':<18}{memory.engine_mib:8.1f}   (containerd shims and docker-proxy "
        "processes, PSS growth per instance; outside the containers' cgroups)"
    )
    print(f"{'= on the machine':<18}{mean_mib + memory.engine_mib:8.1f}")


# --- main ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=GOAL_COUNT, help="instances (students)")
    parser.add_argument("--parallel", type=int, default=4, help="instances started at once")
    parser.add_argument(
        "--grade-parallel",
        type=int,
        default=DEFAULT_WORKERS,
        help="instances graded at once (default: labctl session grade's)",
    )
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds before stats")
    parser.add_argument(
        "--backend",
        choices=("docker", "swarm"),
        default="docker",
        help="swarm: the same class again on the swarm backend, side by side (docs/swarm.md)",
    )
    args = parser.parse_args()
    if args.count < 1 or args.parallel < 1 or args.grade_parallel < 1:
        parser.error("--count, --parallel and --grade-parallel must be at least 1")
    return args


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass(frozen=True)
class Compared:
    """The same class on the swarm backend (``--backend swarm``)."""

    nodes: list[str]
    up: UpResult
    graded: GradeResult


def swarm_backend() -> tuple[Backend, list[str]]:
    """labctl's swarm backend and its nodes, asked before anything is made: an engine
    outside a swarm ends the run here, in one line."""
    try:
        swarm = get_backend("swarm")
        if not isinstance(swarm, MultiNode):
            raise SystemExit("--backend swarm: the swarm backend lists no nodes")
        nodes = swarm.nodes()
    except LabctlError as exc:
        raise SystemExit(f"--backend swarm: {exc}") from exc
    return swarm, [f"{n.hostname} ({n.role}, {n.state}, {n.availability})" for n in nodes]


def on_swarm(
    swarm: tuple[Backend, list[str]],
    loaded: LoadedLab,
    args: argparse.Namespace,
    work: Path,
    leftovers: Leftovers,
) -> Compared:
    """The class again, on the swarm the engine belongs to (labctl's swarm backend)."""
    swarm_, nodes = swarm
    manager = Instances(swarm_, InstanceStore(work / "swarm.db"))
    leftovers.managers.append(manager)
    print(f"swarm ({len(nodes)} node(s)): {args.count} instances, {args.parallel} at a time")
    up = bring_up(manager, loaded, args.count, args.parallel, leftovers, prefix="s")
    print(f"grading {len(up.records)} instances on the swarm", flush=True)
    graded = grade(swarm_, loaded, up.records, work, args.grade_parallel)
    return Compared(nodes, up, graded)


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
    compared = None
    swarm = swarm_backend() if args.backend == "swarm" else None
    with tempfile.TemporaryDirectory(prefix=f"labctl-session-bench-{RUN}-") as tmp:
        work = Path(tmp)
        backend = DockerBackend(client)
        manager = Instances(backend, InstanceStore(work / "labctl.db"))
        try:
            shape = plan_instance(loaded, "shape", student="shape", seed=0)
            containers, networks = len(shape.hosts) * args.count, len(shape.networks) * args.count
            print(f"floor: {containers} bare containers, {networks} networks", flush=True)
            floors = floor(client, containers, networks)
            print(f"floor, wired: {args.count} x the instance's networks and hosts", flush=True)
            floors = replace(floors, wired=wired_floor(client, shape, args.count))
            engine_before_mib = engine_helpers_mib()
            print(f"labctl: {args.count} instances, {args.parallel} at a time", flush=True)
            up = bring_up(manager, loaded, args.count, args.parallel, leftovers)
            print(f"idle {args.idle:.0f} s, then memory", flush=True)
            memory = idle_memory(client, [r.id for r in up.records], args.idle, engine_before_mib)
            print(f"grading {len(up.records)} instances", flush=True)
            graded = grade(backend, loaded, up.records, work, args.grade_parallel)
            if swarm is not None:
                print("removing the plain engine's class", flush=True)
                leftovers.sweep()
                leftovers.instance_ids.clear()
                compared = on_swarm(swarm, loaded, args, work, leftovers)
        finally:
            print("removing everything this run made", flush=True)
            leftovers.sweep()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other users' work skews figures)")
    print_table(args, up, floors, memory, graded)
    if compared is not None:
        print_comparison(args, up, graded, compared)


def print_comparison(
    args: argparse.Namespace, up: UpResult, graded: GradeResult, swarm: Compared
) -> None:
    """The plain engine and the swarm side by side, for the same class."""
    n = args.count
    print(f"\nThe same class on the swarm backend: {len(swarm.nodes)} node(s)")
    for node in swarm.nodes:
        print(f"  {node}")
    print(f"{'what':<40}{'plain engine':>16}{'swarm':>16}{'swarm/plain':>13}")
    rows = [
        (f"{n} instances up and healthy", up.seconds, swarm.up.seconds, "s"),
        ("  CPU of the machine meanwhile", up.cpu_s, swarm.up.cpu_s, "CPU-s"),
        (f"{n} graded with reports", graded.seconds, swarm.graded.seconds, "s"),
        ("  CPU of the machine meanwhile", graded.cpu_s, swarm.graded.cpu_s, "CPU-s"),
    ]
    for what, plain, other, unit in rows:
        ratio = f"{other / plain:.2f} x" if plain else "-"
        print(f"{what:<40}{plain:>10.1f} {unit:<5}{other:>10.1f} {unit:<5}{ratio:>13}")
    for student, why in sorted(swarm.up.failed.items()):
        print(f"  swarm: {student} failed: {why}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: everything this run made was removed", file=sys.stderr)
        sys.exit(130)
