"""The grading layer without an engine: vantage lifecycle, check timeouts, the replay script."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from graders.checks.base import CheckResult, Status
from graders.live.probe import open_probe
from graders.live.run import run_check
from graders.live.selftest import SelfTest
from graders.live.target import GradeTarget
from graders.live.vantage import GRADER_HOST, vantage
from labctl.backends.base import Backend
from labctl.backends.vantage import RUN_LABEL
from labctl.errors import BackendError
from labctl.protocols.tc_frame import ControlCommand, TcFrame, decode_control_command
from labctl.range.vantage import replay as vantage_replay
from labctl.spec.models import CheckRef


@dataclass
class FakeVantageBackend:
    """Just what the vantage needs: a name, ``connect``, and vantage operations."""

    name: str = "fake-grading"
    fail_connect: bool = False
    running: dict[str, dict[str, Any]] = field(default_factory=dict)
    connected: list[str] = field(default_factory=list)

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        if self.fail_connect:
            raise BackendError("connect", "no such network")
        self.connected.append(network)
        return True

    def run_vantage(
        self,
        instance_id: str,
        host: str,
        *,
        image: str,
        network: str,
        labels: Mapping[str, str],
        command: Sequence[str] = ("sleep", "infinity"),
    ) -> None:
        self.running[host] = {"image": image, "network": network, "labels": dict(labels)}

    def remove_vantage(self, instance_id: str, host: str) -> bool:
        return self.running.pop(host, None) is not None

    def vantages(self) -> FakeVantageBackend:
        return self


def test_open_probe_observes_from_its_own_vantage_and_removes_it_afterwards() -> None:
    fake = FakeVantageBackend()
    target = GradeTarget("lab-x", "ada", 7, "http://127.0.0.1:9", {})
    run_ids = []

    def crashing_check() -> None:
        with open_probe(cast(Backend, fake), target) as probe:
            assert (probe.instance_id, probe.mission_control) == ("lab-x", "http://127.0.0.1:9")
            assert probe.vantage_host == GRADER_HOST
            run_ids.append(fake.running[GRADER_HOST]["labels"][RUN_LABEL])
            raise RuntimeError("check crashed")

    with pytest.raises(RuntimeError):
        crashing_check()
    assert fake.running == {}
    with open_probe(cast(Backend, fake), target):
        run_ids.append(fake.running[GRADER_HOST]["labels"][RUN_LABEL])
    assert fake.running == {}
    assert len(set(run_ids)) == 2  # a fresh run id each time
    assert all(len(r) == 12 for r in run_ids)


def test_the_vantage_runs_from_the_attacker_image_on_rf_and_corp_only() -> None:
    fake = FakeVantageBackend()
    with vantage(cast(Backend, fake), "lab-x", "run1") as host:
        assert host == GRADER_HOST
        spec = fake.running[GRADER_HOST]
        assert spec["image"].startswith("labctl/attacker:")
        assert spec["labels"] == {RUN_LABEL: "run1"}
        assert [spec["network"], *fake.connected] == ["rf", "corp"]
    assert fake.running == {}


def test_the_vantage_is_removed_when_the_run_fails() -> None:
    fake = FakeVantageBackend()
    with pytest.raises(RuntimeError), vantage(cast(Backend, fake), "lab-x", "run1"):
        raise RuntimeError("check crashed")
    assert fake.running == {}
    broken = FakeVantageBackend(fail_connect=True)
    with pytest.raises(BackendError), vantage(cast(Backend, broken), "lab-x", "run2"):
        pass
    assert broken.running == {}


class SlowProbe:
    def truth(self) -> dict[str, Any]:
        time.sleep(5)
        return {}


def test_a_check_that_outlives_its_timeout_is_an_error() -> None:
    result = run_check(CheckRef(name="replay_executed", timeout=1), cast(Any, SlowProbe()))
    assert result.status is Status.ERROR
    assert "within 1 s" in result.evidence


def test_unknown_check_and_broken_args_never_crash() -> None:
    bad = CheckRef(name="telemetry_fresh", args={"max_age": "soon"})
    assert run_check(bad, cast(Any, SlowProbe())).status is Status.ERROR


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_capture_keeps_the_first_type_ad_frame(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_udp_port()
    frame = TcFrame(scid=300, vcid=0, data=b"\x03secret", seq=9).encode()

    def transmit() -> None:
        time.sleep(0.3)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in (b"garbage", frame):
                sock.sendto(datagram, ("127.0.0.1", port))

    threading.Thread(target=transmit).start()
    assert vantage_replay.main(["capture", "--port", str(port), "--timeout", "5"]) == 0
    heard = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert heard == {"frame": frame.hex(), "seq": 9, "scid": 300}


def test_replay_puts_farm_in_sequence_then_back() -> None:
    frame = TcFrame(scid=300, vcid=0, data=b"\x03secret", seq=255).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        target = sock.getsockname()
        assert vantage_replay.replay(frame, target, times=1, gap=0) == {"sent": 1, "seq": 255}
        received = [sock.recv(2048) for _ in range(4)]
    assert received[2] == frame
    unlock, first, last = (
        decode_control_command(TcFrame.decode(d).data) for d in received[:2] + received[3:]
    )
    assert unlock == (ControlCommand.UNLOCK, None)  # a FARM-1 in Lockout ignores Set V(R)
    assert first[1] == 255
    assert last[1] == 0  # N(S) + 1, modulo 256


def test_replay_leaves_farm_at_the_v_r_it_is_given() -> None:
    frame = TcFrame(scid=300, vcid=0, data=b"\x03secret", seq=40).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        replayed = vantage_replay.replay(frame, sock.getsockname(), times=2, gap=0, after=43)
        assert replayed == {"sent": 2, "seq": 40}
        received = [sock.recv(2048) for _ in range(7)]
    assert received[2] == received[5] == frame
    assert decode_control_command(TcFrame.decode(received[-1]).data) == (
        ControlCommand.SET_VR,
        43,
    )


@dataclass
class FakeLauncher:
    downs: list[str] = field(default_factory=list)
    fail_up: bool = False

    def up(self, seed: int) -> GradeTarget:
        if self.fail_up:
            raise BackendError("up", "engine unreachable")
        return GradeTarget(f"lab-{seed}", "selftest", seed, "http://127.0.0.1:1")

    def down(self, instance_id: str) -> None:
        self.downs.append(instance_id)

    def open_phase(self, instance_id: str, phase: str) -> bool:
        return True


def test_selftest_takes_the_instance_down_when_a_run_aborts() -> None:
    launcher = FakeLauncher()
    backend = cast(Backend, FakeVantageBackend(fail_connect=True))
    steps = SelfTest(cast(Any, None), backend, launcher).run([7])
    assert [(s.step, s.ok) for s in steps] == [("up", True), ("selftest", False), ("down", True)]
    assert "no such network" in steps[1].observed
    assert launcher.downs == ["lab-7"]


def test_selftest_reports_a_failed_up_and_goes_on_with_the_next_seed() -> None:
    steps = SelfTest(
        cast(Any, None), cast(Backend, FakeVantageBackend()), FakeLauncher(fail_up=True)
    )
    assert [(s.seed, s.ok) for s in steps.run([1, 2])] == [(1, False), (2, False)]


def test_selftest_seeds_run_side_by_side_when_asked() -> None:
    import threading

    both = threading.Barrier(2, timeout=10)

    class Together(FakeLauncher):
        def up(self, seed: int) -> GradeTarget:
            both.wait()  # both seeds are up at once, or this times out
            return super().up(seed)

    launcher = Together()
    backend = cast(Backend, FakeVantageBackend(fail_connect=True))
    steps = SelfTest(cast(Any, None), backend, launcher).run([1, 2], parallel=2)
    assert sorted(launcher.downs) == ["lab-1", "lab-2"]
    assert sorted((s.seed, s.step) for s in steps if s.step in {"up", "down"}) == [
        (1, "down"),
        (1, "up"),
        (2, "down"),
        (2, "up"),
    ]


@pytest.mark.parametrize(
    ("status", "expect", "ok"),
    [
        (Status.PASS, True, True),
        (Status.FAIL, False, True),
        (Status.FAIL, True, False),
        (Status.PASS, False, False),
        # A check that could not observe is never what a reference solution expects,
        # not even where a fail is (before the fix): it is a surprise.
        (Status.ERROR, False, False),
        (Status.ERROR, True, False),
    ],
)
def test_selftest_counts_an_error_as_a_surprise(
    monkeypatch: pytest.MonkeyPatch, status: Status, expect: bool, ok: bool
) -> None:
    from graders.live import selftest as selftest_module

    def run_objective(objective: Any, probe: Any, variables: Any) -> CheckResult:
        return CheckResult(status, "could not observe the instance: no host 'groundstation'")

    monkeypatch.setattr(selftest_module, "run_objective", run_objective)
    test = SelfTest(cast(Any, None), cast(Backend, FakeVantageBackend()), FakeLauncher())
    target = GradeTarget("lab-1", "selftest", 1, "http://127.0.0.1:1")
    phases = selftest_module.Phases(test, 1, target, cast(Any, None))
    objective = cast(Any, type("Objective", (), {"id": "port-closed"})())
    phases.judge(objective, expect=expect, when="before the fix")
    (step,) = test.steps
    assert step.ok is ok
    assert step.observed.startswith(f"{status.value}: ")
