"""Applying a lab's injects: order, restarts, one-line errors; tc-replay's per-student values."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from scenario_fakes import FakeBackend

from labctl.instances.store import SCHEMA_VERSION, Event, InstanceRecord, InstanceStore
from labctl.scenario import (
    InjectContext,
    InjectFailed,
    PlacedInject,
    apply_file_injects,
    apply_injects,
    apply_live_injects,
    lab_injects,
    parameters,
    render_briefing,
    variables,
)
from labctl.spec import LoadedLab
from labctl.spec.models import InjectRef

SC = "/etc/labctl/spacecraft.yaml"


def placed(where: str, kind: str, host: str | None, **args: object) -> PlacedInject:
    return PlacedInject(where, InjectRef(kind=kind, host=host, args=args))


def test_file_injects_then_restarts_then_volatile_injects(
    ctx: InjectContext, backend: FakeBackend
) -> None:
    injects = [
        placed("injects[0]", "port", "ground-station", port=22, open=False),
        placed("injects[1]", "set_config", "spacecraft", file=SC, key="scid", value=7),
        placed("injects[2]", "rf_conditions", None, loss=0.1),
        placed("injects[3]", "set_config", "spacecraft", file=SC, key="battery", value=50.0),
    ]
    recorded: list[str] = []
    logs = apply_injects(ctx, injects, lambda log: recorded.append(f"{log.kind}@{log.host}"))
    assert recorded == [
        "set_config@spacecraft",
        "rf_conditions@rf-link",
        "set_config@spacecraft",
        "restart@spacecraft",
        "restart@rf-link",
        "port@ground-station",
    ]
    assert [log.changed for log in logs] == [True] * 6
    assert backend.restarted == ["spacecraft", "rf-link"]
    again = apply_injects(ctx, injects)
    assert [log.changed for log in again] == [False] * 4
    assert backend.restarted == ["spacecraft", "rf-link"]  # nothing changed: no restart


def test_file_injects_work_on_hosts_not_started_and_the_rest_after(
    ctx: InjectContext, backend: FakeBackend
) -> None:
    injects = [
        placed("injects[0]", "port", "ground-station", port=22, open=False),
        placed("injects[1]", "add_user", "ground-station", user="op"),
        placed("injects[2]", "set_config", "spacecraft", file=SC, key="scid", value=7),
        placed("injects[3]", "write_file", "attacker", path="/etc/motd", content="hi\n"),
    ]
    for host in backend.hosts.values():
        host.started = False  # exec fails: only files, stat and /etc/passwd
    files = apply_file_injects(ctx, injects)
    assert [(log.kind, log.changed) for log in files] == [("set_config", 1), ("write_file", 1)]
    assert backend.commands == []
    for host in backend.hosts.values():
        host.started = True
    live = apply_live_injects(ctx, injects)
    assert [log.kind for log in live] == ["add_user", "port"]
    assert backend.restarted == []
    assert [log.changed for log in apply_file_injects(ctx, injects)] == [False, False]


def test_an_inject_that_fails_is_named_as_in_the_lab_file(ctx: InjectContext) -> None:
    bad = placed(
        "weaknesses[0].injects[0]", "set_config", "spacecraft", file="/nope", key="a", value=1
    )
    with pytest.raises(InjectFailed) as caught:
        apply_injects(ctx, [bad])
    assert str(caught.value) == (
        "weaknesses[0].injects[0] (set_config on spacecraft): /nope does not exist on spacecraft"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {"file": SC, "key": "scid", "value": "{{ params.nope }}"},
            "'dict object' has no attribute 'nope'",
        ),
        ({"file": "relative.yaml", "key": "a", "value": 1}, "file: String should match pattern"),
    ],
)
def test_render_and_argument_errors_are_one_line(
    ctx: InjectContext, args: dict[str, object], expected: str
) -> None:
    with pytest.raises(InjectFailed) as caught:
        apply_injects(ctx, [placed("injects[2]", "set_config", "spacecraft", **args)])
    message = str(caught.value)
    assert message.startswith("injects[2] (set_config on spacecraft): ")
    assert expected in message
    assert "\n" not in message


def test_a_failed_restart_is_named(ctx: InjectContext, backend: FakeBackend) -> None:
    backend.fail_restart = True
    with pytest.raises(
        InjectFailed, match=r"^restart \(restart on spacecraft\): restart spacecraft"
    ):
        apply_injects(
            ctx, [placed("injects[0]", "set_config", "spacecraft", file=SC, key="scid", value=9)]
        )


def test_a_kind_that_needs_a_host_says_so(ctx: InjectContext) -> None:
    with pytest.raises(
        InjectFailed, match=r"injects\[0\] \(add_user on \?\): name the target host"
    ):
        apply_injects(ctx, [placed("injects[0]", "add_user", None, user="op")])


def test_tc_replay_gets_the_students_values_on_both_ends(
    replay_lab: LoadedLab, backend: FakeBackend, lab_dir: Path
) -> None:
    params = parameters(replay_lab.spec, "ana", 1234)
    names = variables(params.values, "ana", "tc-replay-ana", "tc-replay")
    ctx = InjectContext(backend, "tc-replay-ana", replay_lab.root, names, {})  # type: ignore[arg-type]
    places = [p.where for p in lab_injects(replay_lab.spec)]
    assert places[0] == "injects[0]"
    assert "weaknesses[1].injects[0]" in places
    apply_injects(ctx, lab_injects(replay_lab.spec))
    sc = yaml.safe_load(backend.copy_from("", "spacecraft", SC))
    gs = yaml.safe_load(backend.copy_from("", "ground-station", "/etc/labctl/ground-station.yaml"))
    uplink = sc["sdls"]["associations"]["uplink"]
    assert uplink["anti_replay"] is False
    assert uplink["persist_sequence"] is False
    assert sc["scid"] == gs["scid"] == params.values["spacecraft_id"]
    assert isinstance(sc["scid"], int)
    assert uplink["spi"] == gs["uplink"]["sa"]["spi"] == params.values["uplink_spi"]
    for host in ("spacecraft", "ground-station"):
        key = backend.hosts[host].files["/etc/labctl/keys/uplink.key"]
        assert key.content == f"{params.values['uplink_key']}\n".encode()
        assert (key.mode, key.uid) == (0o600, 10001)
    assert sorted(backend.restarted) == [
        "attacker",  # its home seed: the account file
        "ground-station",
        "mission-control",  # the student's account
        "spacecraft",
    ]


def test_the_briefing_shows_public_parameters_only(replay_lab: LoadedLab, tmp_path: Path) -> None:
    params = parameters(replay_lab.spec, "ana", 99)
    text = render_briefing(replay_lab, "ana", 99, "tc-replay-ana")
    assert "briefing for ana" in text
    assert f"SCID {params.values['spacecraft_id']}" in text
    assert all(secret not in text for secret in params.secrets().values())
    lab = LoadedLab(replay_lab.spec.model_copy(update={"briefing": "b.md"}), tmp_path)
    (tmp_path / "b.md").write_text("key: {{ params.uplink_key }}\n")
    with pytest.raises(Exception, match="uplink_key"):
        render_briefing(lab, "ana", 99, "tc-replay-ana")


# --- the event log in the state database ----------------------------------------------------


def test_events_are_stored_in_order_and_forgotten_with_the_instance(tmp_path: Path) -> None:
    store = InstanceStore(tmp_path / "labctl.db")
    store.reserve(InstanceRecord("i1", "tc-replay", "ana", 1, "now", "running"))
    store.add_event(Event("i1", "t1", "set_config", "spacecraft", "scid = 5", True))
    store.add_event(Event("i1", "t2", "restart", "spacecraft", "restarted", True))
    assert [(e.kind, e.changed) for e in store.events("i1")] == [
        ("set_config", True),
        ("restart", True),
    ]
    store.delete("i1")
    assert store.events("i1") == []


def test_a_version_1_database_gains_the_event_table(tmp_path: Path) -> None:
    path = tmp_path / "labctl.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE instances (id TEXT PRIMARY KEY, lab TEXT NOT NULL, student TEXT NOT NULL,"
            " seed INTEGER NOT NULL, created TEXT NOT NULL, status TEXT NOT NULL,"
            " backend TEXT NOT NULL DEFAULT 'docker', ports TEXT NOT NULL DEFAULT '{}',"
            " access TEXT NOT NULL DEFAULT '{}')"
        )
        db.execute(
            "INSERT INTO instances (id, lab, student, seed, created, status)"
            " VALUES ('old', 'l', 's', 3, 'c', 'running')"
        )
        db.execute("PRAGMA user_version = 1")
    store = InstanceStore(path)
    record = store.get("old")
    assert record is not None
    assert record.seed == 3
    store.add_event(Event("old", "t", "network", "attacker", "attached to rf", False))
    assert store.events("old")[0].changed is False
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_file_injects_read_each_file_once_and_write_it_once(
    ctx: InjectContext, backend: FakeBackend
) -> None:
    reads: list[str] = []
    copy_from = backend.copy_from

    def counted(instance_id: str, host: str, path: str) -> bytes:
        reads.append(f"{host}:{path}")
        return copy_from(instance_id, host, path)

    backend.copy_from = counted  # type: ignore[method-assign]
    injects = [
        placed(f"injects[{i}]", "set_config", "spacecraft", file=SC, key=key, value=value)
        for i, (key, value) in enumerate([("scid", 7), ("battery", 50.0), ("scid", 8)])
    ]
    apply_file_injects(ctx, injects)
    assert reads == [f"spacecraft:{SC}"]
    assert backend.writes == [("spacecraft", SC)]
    assert yaml.safe_load(copy_from("", "spacecraft", SC))["scid"] == 8


def test_file_injects_write_nothing_unless_all_of_them_apply(
    ctx: InjectContext, backend: FakeBackend
) -> None:
    injects = [
        placed("injects[0]", "set_config", "spacecraft", file=SC, key="scid", value=7),
        placed(
            "injects[1]", "set_config", "spacecraft", file="/etc/labctl/none.yaml", key="a", value=1
        ),
    ]
    with pytest.raises(InjectFailed, match=r"injects\[1\].*does not exist"):
        apply_file_injects(ctx, injects)
    assert backend.writes == []


def test_grading_accounts_are_hashes_of_passwords_only_the_graders_derive() -> None:
    """Every instance gets mission control's grading accounts (operator and flight
    director): the inject carries a hash; the password derives from the seed again."""
    from labctl.range.hosts.missioncontrol.passwords import verify_hash
    from labctl.scenario import grader_injects
    from labctl.spec.params import GRADER_ACCOUNTS, grader_password

    placed = grader_injects(1234, "tc-replay-ana")
    assert [p.inject.args["key"] for p in placed] == ["users.grader", "users.grader-fd"]
    for p, (role, _user) in zip(placed, GRADER_ACCOUNTS.items(), strict=True):
        value = p.inject.args["value"]
        assert value["role"] == role
        assert "password" not in value
        assert verify_hash(grader_password(1234, "tc-replay-ana", role), value["password_hash"])
        assert not verify_hash(grader_password(1235, "tc-replay-ana", role), value["password_hash"])
    assert grader_password(1234, "a", "operator") != grader_password(1234, "b", "operator")
