"""What every check declares, what it may observe, and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

from labctl.errors import LabctlError
from labctl.spec.vocabulary import Args

#: A check's argument model: the pydantic class its ``Args`` names.
ArgsT = TypeVar("ArgsT", bound=Args)


class Status(Enum):
    """A check's outcome. PASS and FAIL are verdicts on what the check observed; ERROR
    says it could not observe what it judges (a host or service it could not reach, a
    name that does not resolve, a vantage program that did not run, ground truth it
    could not read or that lacks what it needs), so there is no verdict: no points, and
    the evidence says what could not be observed. Checks fail closed: what they cannot
    see is never a pass."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True)
class CheckResult:
    status: Status
    evidence: str
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS


def passed(evidence: str) -> CheckResult:
    return CheckResult(Status.PASS, evidence)


def failed(evidence: str, hint: str = "") -> CheckResult:
    return CheckResult(Status.FAIL, evidence, hint)


def unobserved(evidence: str, hint: str = "") -> CheckResult:
    """The check could not observe what it judges: an error (no verdict, no points), never
    a pass nor a plain fail. ``evidence`` says what could not be observed, and why."""
    return CheckResult(Status.ERROR, evidence, hint)


#: The grader vantage's networks: the attacker's side of the ground segment.
VANTAGE_NETWORKS: Final = ("rf", "corp")


@dataclass(frozen=True)
class HostFileStat:
    """A path's permission bits and owner ids, as the container engine reads them."""

    mode: int
    uid: int
    gid: int


class Probe(Protocol):
    """Observations of one live instance, provided by the layer above the graders.

    Every method raises a :class:`LabctlError` when it cannot observe (host down,
    service unreachable, timeout); :meth:`Check.run` turns that into an error result
    (:attr:`Status.ERROR`), never a verdict.
    """

    #: Only what happened at or after this time (Unix seconds) counts; None: everything.
    #: A selftest sets it once the reference fix is in, so the attack's earlier success
    #: is not judged again (ground truth and health keep their history).
    since: float | None

    def truth(self) -> dict[str, Any]:
        """The spacecraft's ground truth document, read out of band."""
        ...

    def vantage_exec(
        self,
        argv: Sequence[str],
        timeout: float = 60.0,
        on_line: Callable[[str], None] | None = None,
    ) -> tuple[int, str]:
        """Run ``argv`` in the grader vantage (on the instance's rf and corp networks):
        (exit status, output). ``on_line`` is called with each output line, as it comes
        where the probe can (else once the program is done)."""
        ...

    def vantage_exec_on(
        self, network: str, argv: Sequence[str], timeout: float = 60.0
    ) -> tuple[int, str]:
        """Run ``argv`` in a grader vantage of its own on the instance's ``network`` only
        (created for the call, removed after it): to observe from a network the grader
        vantage is not on, e.g. a service bound to the ground network."""
        ...

    def host_networks(self, host: str) -> Mapping[str, str]:
        """The networks ``host`` is attached to, each with its IPv4 address there, as the
        container engine reports them."""
        ...

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        """One request to mission control's HTTP API: (status code, decoded JSON)."""
        ...

    def credentials(self, role: str) -> tuple[str, str]:
        """User name and password of mission control's account for ``role``."""
        ...

    def restart(self, host: str) -> None:
        """Restart ``host``'s program and wait until it is healthy again."""
        ...

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        """Run ``argv`` on one of the instance's own hosts, out of band (through the
        container engine, never a network a student reaches). The programs are the
        host's own: on a host where a student may have root (the ground station) they
        may lie, so no verdict rests on them there; observe from the vantage or use
        :meth:`host_stat`."""
        ...

    def host_stat(self, host: str, path: str) -> HostFileStat | None:
        """Mode and owner of ``path`` in ``host`` as the container engine reads the
        host's file system (its archive API), through no program in the host; None when
        the engine finds nothing there. A symbolic link at ``path`` is reported as itself
        (mode 0777); with a trailing ``/`` the engine follows it to the directory. Files
        on the host's tmpfs and virtual file systems (/run, /tmp, /proc, ...) are out of
        the engine's sight: they read as missing."""
        ...

    def host_read(self, host: str, path: str) -> bytes | None:
        """The bytes of the regular file at ``path`` in ``host``, read like
        :meth:`host_stat` through the engine's archive API (no program in the host);
        None when the engine finds nothing there. Raises a :class:`LabctlError` for
        anything that is not a regular file, or larger than the engine copies out."""
        ...


class Check(Generic[ArgsT]):
    """A named check with typed arguments.

    Subclasses name their argument model twice, once for the type checker and once at
    run time: ``class PortClosed(Check[PortClosedArgs])`` with ``Args = PortClosedArgs``.
    They set ``name`` (what lab.yaml writes) and ``summary`` (one line for ``labctl labs
    show`` and the JSON Schema), and implement ``judge``, which receives the validated
    model itself, so no check downcasts its arguments. A check is registered once, by
    being listed in an object published in the ``labctl.checks`` entry-point group.

    Checks fail closed: ``judge`` returns :func:`unobserved` (or raises a
    :class:`LabctlError`) for whatever it could not observe, and passes only on what it
    saw. An argument that names a host is typed ``HostName`` (labctl.spec.vocabulary),
    so ``labs validate`` checks it against the lab's topology.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Not a ClassVar: a class variable may not mention the type variable.
    Args: type[ArgsT]
    #: The check can judge by reading alone: the spacecraft's ground truth, files as the
    #: container engine sees them, logs of the project's own hosts. It sends nothing into
    #: the instance (no frame, no login, no connection) and changes nothing, so the
    #: portal's class board may run it every minute (:meth:`observation`).
    passive: ClassVar[bool] = False

    def run(self, args: ArgsT, probe: Probe) -> CheckResult:
        """Judge the instance; an observation that fails (the probe or the check raising a
        :class:`LabctlError`) is an error result, never a verdict and never a crash."""
        try:
            return self.judge(args, probe)
        except LabctlError as exc:
            return unobserved(f"could not observe the instance: {exc}")

    def run_raw(self, args: dict[str, Any], probe: Probe) -> CheckResult:
        """Validate plain (rendered) arguments against ``Args``, then :meth:`run`."""
        return self.run(self.Args.model_validate(args), probe)

    def judge(self, args: ArgsT, probe: Probe) -> CheckResult:
        raise NotImplementedError

    def observation(self, args: ArgsT) -> ArgsT | None:
        """The arguments to judge with in a passive observation (nothing sent, no long
        wait), or None when these arguments make the check act (send, log in, wait for an
        operator). A passive check that waits for something shortens the wait here."""
        return args if self.passive else None
