"""The scripted adversary on the real engine: tc-replay with a timeline added, brought up,
attacked by its adversary container, judged from the adversary's log, taken down."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from live import REPO, eventually, login, mission_control_url, truth

from labctl.backends.base import INSTANCE_LABEL
from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord, Instances, InstanceStore
from labctl.range.adversary import ADVERSARY_HOST, LOG_PATH
from labctl.range.adversary.logfile import parse_log
from labctl.spec import load_lab
from labctl.spec.params import wordlist

pytestmark = pytest.mark.docker
RF_STATUS = "/run/labctl/rf-link.json"

TIMELINE = """
adversary:
  - at: 0
    action: replay_telecommands
    args: {count: 1}
  - on: pass_start
    action: inject_frames
    args: {service: 17, subtype: 1, bypass: true}
  - at: 1
    action: hazardous_command
    args: {command: SAFE_MODE, username: admin, password: "{{ 'ad' ~ 'min' }}"}
  - at: 1
    action: hazardous_command
    args: {command: THRUSTER_FIRE, username: operator, password: operator,
           command_args: {duration_ms: 100}}
  - at: 2
    action: brute_force
    args: {target: mission-control, username: viewer, max_attempts: 3}
  - at: 3
    action: flood
    args: {rate: 50, duration: 1}
  - at: 4
    action: jam
    args: {duration: 2}
  - at: 5
    action: brute_force
    args: {target: ssh, username: flightops, max_attempts: 5}
"""
#: The account the SSH brute force finds: its password is the word list's third word.
SSH_ACCOUNT = "  - {kind: add_user, host: ground-station, args: {user: flightops, password: %s}}\n"


@pytest.fixture(scope="module")
def instance(
    lab_backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instances, InstanceRecord]]:
    root = tmp_path_factory.mktemp("labs") / "tc-replay"
    shutil.copytree(REPO / "labs" / "tc-replay", root)
    lab_file = root / "lab.yaml"
    text = lab_file.read_text(encoding="utf-8")
    account = SSH_ACCOUNT % json.dumps(wordlist("weak-passwords")[2])
    text = text.replace("\ninjects:\n", "\ninjects:\n" + account, 1)
    lab_file.write_text(text + TIMELINE, encoding="utf-8")
    state = tmp_path_factory.mktemp("state")
    manager = Instances(lab_backend, InstanceStore(state / "labctl.db"))
    began = time.monotonic()
    record = manager.up(load_lab(root), f"adv{uuid.uuid4().hex[:8]}")
    print(f"up with an adversary: {time.monotonic() - began:.1f} s")
    try:
        yield manager, record
    finally:
        manager.down(record.id)
    selector = {"label": f"{INSTANCE_LABEL}={record.id}"}
    assert lab_backend.client.containers.list(all=True, filters=selector) == []
    assert lab_backend.client.networks.list(filters=selector) == []


def adversary_log(backend: DockerBackend, record: InstanceRecord) -> list[dict[str, Any]]:
    result = backend.exec(record.id, ADVERSARY_HOST, ["cat", LOG_PATH])
    return parse_log(result.output) if result.exit_code == 0 else []


def test_the_adversary_runs_its_timeline_and_logs_every_outcome(
    instance: tuple[Instances, InstanceRecord], lab_backend: DockerBackend
) -> None:
    manager, record = instance
    events = [e for e in manager.store.events(record.id) if e.kind == "adversary"]
    assert events, events
    assert events[0].summary.startswith("adversary started: 8 step(s)"), events
    operator = login(mission_control_url(record))

    def replayed() -> list[dict[str, Any]]:
        # an operator's PING every few seconds: the uplink traffic the adversary waits for
        operator.post("/api/commands", json={"name": "PING", "args": {}})
        return [e for e in adversary_log(lab_backend, record) if e["step"] == 0]

    eventually(replayed, 60, "the adversary replayed an operator's frame")
    log = eventually(
        lambda: (entries := adversary_log(lab_backend, record)) and len(entries) >= 8 and entries,
        120,
        "eight actions in the adversary's log",
    )
    by_step = {e["step"]: e for e in log}

    replay = by_step[0]
    assert replay["outcome"] == "done", replay
    assert replay["success"] is None, replay
    (frame,) = replay["frames"]
    pair = (frame["spi"], frame["sn"])
    runs = [
        c
        for c in truth(lab_backend, record)["executed_commands"]
        if (c["spi"], c["sequence_number"]) == pair
    ]
    assert len(runs) >= 2, f"the replayed frame {pair} ran {len(runs)} time(s) (anti-replay off)"

    forged = by_step[1]
    assert forged["event"] == "pass_start", forged
    assert forged["outcome"] == "done", forged
    assert forged["frames"][0]["spi"] is None

    admin, operator_cmd = by_step[2], by_step[3]
    assert admin["success"] is True, admin
    assert admin["http_status"] == 201, admin
    assert operator_cmd["success"] is False, operator_cmd
    assert operator_cmd["http_status"] == 403, operator_cmd

    brute = by_step[4]
    assert brute["outcome"] == "done", brute
    assert brute["attempts"] <= 3, brute

    flood = by_step[5]
    assert flood["outcome"] == "done", flood
    assert flood["sent"] == 50, flood
    jam = by_step[6]
    assert jam["outcome"] == "done", jam
    assert jam["sent"] > 1000, jam

    def jammed() -> dict[str, Any] | None:
        status = json.loads(lab_backend.exec(record.id, "rf-link", ["cat", RF_STATUS]).output)
        noise = status.get("noise", {}).get("uplink", 0) > 1000
        return status if noise and status["dropped"].get("uplink_jammed", 0) > 0 else None

    eventually(jammed, 10, "the rf-link counted the noise and jammed the uplink")

    ssh = by_step[7]
    assert ssh["success"] is True, ssh
    assert (ssh["attempts"], ssh["password"]) == (3, wordlist("weak-passwords")[2]), ssh

    for entry in log:
        assert entry["t"].endswith("+00:00")
        assert isinstance(entry["offset"], float | int)


def test_the_adversary_container_is_confined(
    instance: tuple[Instances, InstanceRecord], lab_backend: DockerBackend
) -> None:
    _, record = instance
    container = lab_backend.container(record.id, ADVERSARY_HOST)
    config = container.attrs["HostConfig"]
    assert config["CapDrop"] == ["ALL"]
    assert config["ReadonlyRootfs"] is True
    assert config["Memory"] > 0
    assert config["PidsLimit"] > 0
    assert container.attrs["Config"]["User"] == "65534:65534"
    networks = set(container.attrs["NetworkSettings"]["Networks"])
    assert networks == {f"labctl-{record.id}-rf", f"labctl-{record.id}-corp"}
    # It serves no port: no engine health check, and no readiness test to fail in status.
    assert container.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]
    health = {s.host: s.health for s in lab_backend.status(record.id)}
    assert health[ADVERSARY_HOST] == "none"
    assert {h for h, state in health.items() if state != "healthy"} == {ADVERSARY_HOST}
    stats = container.stats(stream=False)
    print(f"adversary memory: {stats['memory_stats'].get('usage', 0) / 2**20:.1f} MiB")
    started = datetime.fromisoformat(container.attrs["State"]["StartedAt"][:26] + "+00:00")
    first = container.logs(timestamps=True).decode().splitlines()[0]
    ready = datetime.fromisoformat(first.split()[0][:26] + "+00:00")
    print(f"adversary start: {(ready - started).total_seconds():.2f} s to its first line")


def test_labctl_adversary_log_reads_it(
    instance: tuple[Instances, InstanceRecord], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from labctl.cli.app import app

    _, record = instance

    def logged() -> str | None:
        # the timeline's first action may still be running when this test comes first
        result = CliRunner().invoke(app, ["adversary", "log", record.id, "--json"])
        assert result.exit_code == 0, result.output
        return result.output if '"action": "replay_telecommands"' in result.output else None

    assert eventually(logged, 90, "the adversary's replay in its log")
