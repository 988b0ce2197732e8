"""The live Probe: what graders observe of one running instance, through the backend.

Mission control is reached with one HTTP client per probe (``close`` it when done): a
fresh client per request builds a TLS context each time, about 50 ms of CPU, which was
most of what the grading process spent per instance.

Vantage programs go through the vantage agent (:mod:`graders.live.agent`): one
``docker exec`` for the probe's life instead of one, and a Python start-up, per program.
Where it cannot start (a backend without channels, an image without the agent), each
program is its own exec, as before. The spacecraft's ground truth is read the same way:
one ``sh`` left running there reads the file on each request (one exec per spacecraft
start instead of one per read).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

import httpx

from graders.checks.base import HostFileStat
from graders.live.agent import AGENT_ARGV, AgentSession, FileReader, OnLine
from graders.live.target import GradeTarget
from graders.live.vantage import GRADER_HOST, vantage
from labctl.backends.base import Backend
from labctl.backends.vantage import Channel
from labctl.errors import CheckError, LabctlError
from labctl.range import wiring
from labctl.spec.params import GRADER_ACCOUNTS, grader_password

SPACECRAFT: Final = "spacecraft"
GROUND_STATION: Final = "ground-station"
VANTAGE_SCRIPT: Final = wiring.vantage_program("replay")
TRUTH_PATH: Final = wiring.TRUTH_FILE
#: Mission control's stock accounts (containers/mission-control/mission-control.yaml).
STOCK_ACCOUNTS: Final = {
    "operator": ("operator", "operator"),
    "flight-director": ("flight", "flight-director-example"),
}


@dataclass
class LiveProbe:
    backend: Backend
    instance_id: str
    #: Mission control's base URL as the grader reaches it, e.g. http://127.0.0.1:49153
    mission_control: str
    vantage_host: str = GRADER_HOST
    accounts: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(STOCK_ACCOUNTS))
    http_timeout: float = 10.0
    #: Run vantage programs through the vantage agent when it starts.
    use_agent: bool = True

    #: Wall-clock time (epoch seconds) where observation starts: executed commands
    #: before it are left out of the ground truth. None: the whole history (grading).
    since: float | None = None
    _http: httpx.Client | None = field(default=None, init=False, repr=False)
    _http_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    #: None: not tried yet; False: not available (programs run with an exec each).
    _agent: AgentSession | bool | None = field(default=None, init=False, repr=False)
    _agent_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    #: None: not tried yet (or the last one ended); False: not available.
    _truth: FileReader | bool | None = field(default=None, init=False, repr=False)
    _truth_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client's connections and end the vantage agent (a later call
        opens them again)."""
        with self._http_lock:
            client, self._http = self._http, None
        if client is not None:
            client.close()
        with self._agent_lock:
            agent = self._agent
        if isinstance(agent, AgentSession):
            self._drop_agent(agent)
        self._drop_truth_reader()

    def _drop_agent(self, agent: AgentSession) -> None:
        with self._agent_lock:
            if self._agent is agent:
                self._agent = None
        agent.close()

    def _drop_truth_reader(self) -> None:
        with self._truth_lock:
            reader, self._truth = self._truth, None
        if isinstance(reader, FileReader):
            reader.close()

    def _vantage_agent(self) -> AgentSession | None:
        with self._agent_lock:
            if self._agent is None:
                self._agent = self._start_agent() if self.use_agent else False
            return self._agent if isinstance(self._agent, AgentSession) else None

    def _start_agent(self) -> AgentSession | bool:
        channel = self._open_channel(self.vantage_host, AGENT_ARGV, "nobody")
        if channel is None:
            return False
        agent = AgentSession(channel)
        try:
            agent.hello()
        except LabctlError:
            agent.close()
            return False
        return agent

    def _client(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.http_timeout)
            return self._http

    def _open_channel(self, host: str, argv: Sequence[str], user: str) -> Channel | None:
        """A channel to ``argv`` on ``host``; None where the backend has none."""
        try:
            open_channel = getattr(self.backend.vantages(), "open_channel", None)
            if open_channel is None:
                return None
            channel: Channel = open_channel(self.instance_id, host, argv, user=user)
        except LabctlError:
            return None
        return channel

    def _read_truth(self) -> tuple[int, str]:
        """(exit status, text) of the ground truth file: through the spacecraft's reader
        (a new one once if it ended: the spacecraft restarted), else one exec."""
        with self._truth_lock:
            for _ in range(2):
                if self._truth is None:
                    mark = f"labctl-truth-{uuid.uuid4().hex}"
                    channel = self._open_channel(
                        SPACECRAFT, FileReader.argv(TRUTH_PATH, mark), "root"
                    )
                    self._truth = FileReader(channel, mark) if channel is not None else False
                if not isinstance(self._truth, FileReader):
                    break
                try:
                    return self._truth.read()
                except LabctlError:
                    self._truth.close()
                    self._truth = None
        result = self.backend.exec(self.instance_id, SPACECRAFT, ["cat", TRUTH_PATH])
        return result.exit_code, result.output

    def truth(self) -> dict[str, Any]:
        code, text = self._read_truth()
        if code != 0:
            raise CheckError("truth", f"spacecraft ground truth unreadable: {text}")
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise CheckError("truth", f"spacecraft ground truth is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise CheckError("truth", "spacecraft ground truth is not a JSON object")
        if self.since is not None and isinstance(document.get("executed_commands"), list):
            document["executed_commands"] = [
                e
                for e in document["executed_commands"]
                if isinstance(e, dict) and float(e.get("time") or 0) >= self.since
            ]
        return document

    def vantage_exec(
        self, argv: Sequence[str], timeout: float = 60.0, on_line: OnLine | None = None
    ) -> tuple[int, str]:
        agent = self._vantage_agent()
        if agent is not None:
            try:
                return agent.run(argv, timeout, on_line)
            except LabctlError:
                self._drop_agent(agent)  # out of step: the next program gets a new one
                raise
        bounded = ["timeout", f"{max(1, round(timeout))}", *argv]
        result = self.backend.exec(self.instance_id, self.vantage_host, bounded, user="nobody")
        if on_line is not None:
            for line in result.output.splitlines():
                on_line(line)
        return result.exit_code, result.output

    def vantage_exec_on(
        self, network: str, argv: Sequence[str], timeout: float = 60.0
    ) -> tuple[int, str]:
        """One program in a vantage of its own on ``network``, removed afterwards."""
        run_id = uuid.uuid4().hex[:12]
        with vantage(
            self.backend, self.instance_id, run_id, f"{self.vantage_host}-{network}", (network,)
        ) as host:
            bounded = ["timeout", f"{max(1, round(timeout))}", *argv]
            result = self.backend.exec(self.instance_id, host, bounded, user="nobody")
        return result.exit_code, result.output

    def host_networks(self, host: str) -> dict[str, str]:
        for status in self.backend.status(self.instance_id):
            if status.host == host:
                return dict(status.addresses)
        raise CheckError("networks", f"{self.instance_id} has no host {host!r}")

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        result = self.backend.exec(self.instance_id, host, list(argv), user=user)
        return result.exit_code, result.output

    def host_stat(self, host: str, path: str) -> HostFileStat | None:
        """The engine's own view (the backend's ``stat``: its archive API), not the host's
        ``stat``, which root there may have replaced."""
        found = self.backend.stat(self.instance_id, host, path)
        return None if found is None else HostFileStat(found.mode, found.uid, found.gid)

    def host_read(self, host: str, path: str) -> bytes | None:
        """A regular file's bytes as the engine's archive API reads them (no program in
        the host), or None when there is nothing at ``path``."""
        found = self.backend.read_file(self.instance_id, host, path)
        return None if found is None else found[0]

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            reply = self._client().request(
                method,
                f"{self.mission_control}{path}",
                json=dict(body) if body is not None else None,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise CheckError("mission control", f"{method} {path}: {exc!r}") from exc
        try:
            return reply.status_code, reply.json()
        except ValueError:
            return reply.status_code, reply.text

    def credentials(self, role: str) -> tuple[str, str]:
        if role not in self.accounts:
            raise CheckError("credentials", f"no mission control account known for {role!r}")
        return self.accounts[role]

    def restart(self, host: str) -> None:
        """Restart ``host``; the uplink is then re-initialised, as ground operations do: a
        rebooted spacecraft's FARM-1 starts again at V(R) = 0 and is set back to where the
        ground station's FOP-1 is; a restarted ground station's FOP-1 starts again at
        V(S) = 0, so the spacecraft's FARM-1 is set to 0."""
        farm = self.truth() if host in {SPACECRAFT, GROUND_STATION} else None
        self.backend.restart(self.instance_id, host)
        if host == SPACECRAFT:
            self._drop_truth_reader()  # it ended with the container
        if farm is not None:
            vr = int(farm["farm"]["vr"]) if host == SPACECRAFT else 0
            self._resync(int(farm["scid"]), int(farm["farm"]["vcid"]), vr)

    def _resync(self, scid: int, vcid: int, vr: int) -> None:
        numbers = ["--scid", str(scid), "--vcid", str(vcid), "--vr", str(vr)]
        code, output = self.vantage_exec([*VANTAGE_SCRIPT, "resync", *numbers], 30.0)
        if code != 0:
            raise CheckError("restart", f"uplink not re-initialised after the restart: {output}")


@contextmanager
def open_probe(backend: Backend, target: GradeTarget) -> Iterator[LiveProbe]:
    """The one way a grading run observes an instance: a grader vantage container of its
    own (removed afterwards, also on failure) and the live probe through it."""
    with (
        vantage(backend, target.instance_id, uuid.uuid4().hex[:12]) as host,
        LiveProbe(backend, target.instance_id, target.mission_control, host) as probe,
    ):
        probe.accounts = grading_accounts(probe, target)
        yield probe


def grading_accounts(probe: LiveProbe, target: GradeTarget) -> dict[str, tuple[str, str]]:
    """The instance's own grading accounts (:data:`GRADER_ACCOUNTS`: what graders send
    shows in mission control as theirs); the stock accounts for an instance brought up by
    a labctl that did not create them yet (their login is refused)."""
    ours = {
        role: (user, grader_password(target.seed, target.instance_id, role))
        for role, user in GRADER_ACCOUNTS.items()
    }
    user, password = ours["operator"]
    try:
        status, _ = probe.api("POST", "/api/login", {"username": user, "password": password})
    except LabctlError:
        return ours  # mission control unreachable: the checks will say so
    return ours if status != 401 else dict(STOCK_ACCOUNTS)


class PassiveProbe(LiveProbe):
    """A probe that only reads: the spacecraft's ground truth, files as the engine sees
    them, the engine's view of the networks, and files of the instance's hosts printed
    with ``cat``. Everything that would send into the instance (a vantage program, a
    mission-control request, a restart) is refused as an observation error, so a check
    marked passive by mistake fails closed instead of acting."""

    def __init__(self, backend: Backend, instance_id: str, mission_control: str) -> None:
        super().__init__(backend, instance_id, mission_control, use_agent=False)

    def _refuse(self, what: str) -> CheckError:
        return CheckError("observe", f"a passive observation does not {what}")

    def vantage_exec(
        self, argv: Sequence[str], timeout: float = 60.0, on_line: OnLine | None = None
    ) -> tuple[int, str]:
        raise self._refuse("run programs on the lab's networks")

    def vantage_exec_on(
        self, network: str, argv: Sequence[str], timeout: float = 60.0
    ) -> tuple[int, str]:
        raise self._refuse("run programs on the lab's networks")

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        raise self._refuse("call mission control")

    def restart(self, host: str) -> None:
        raise self._refuse("restart hosts")

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        if len(argv) != 2 or argv[0] != "cat" or not str(argv[1]).startswith("/"):
            raise self._refuse(f"run {' '.join(argv)[:60]!r} on {host} (it reads files only)")
        return super().host_exec(host, argv, user)
