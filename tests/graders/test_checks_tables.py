"""The table checks against a scripted mission control whose spacecraft side is the real
on-board table store (labctl.range.hosts.spacecraft.tables), with real Ed25519."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from graders.checks.base import Status
from graders.checks.tables import (
    PublicKeyArgs,
    TableLoadAccepted,
    TableLoadAcceptedArgs,
    TableLoadRefused,
    TableLoadRefusedArgs,
    TableRollbackRefused,
    TableRollbackRefusedArgs,
    TableTamperedActive,
    TableTrustedActive,
)
from labctl.errors import BackendError, CheckError
from labctl.protocols.table import LimitsTable, public_key, sign
from labctl.range.hosts.spacecraft.config import TablesConfig
from labctl.range.hosts.spacecraft.tables import OnboardTables, TableRefused

SEED = bytes(range(32))
PUBLIC = public_key(SEED).hex()


@dataclass
class FakeTableRange:
    tables: OnboardTables
    sent: dict[int, str] = field(default_factory=dict)
    two_person: bool = False
    since: float | None = None

    def truth(self) -> dict[str, Any]:
        return {"tables": self.tables.as_dict()}

    def credentials(self, role: str) -> tuple[str, str]:
        return role, role

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        if path == "/api/login":
            return 200, {"token": "t"}
        if path == "/api/commands" and body is not None and body["name"] == "TABLE_LOAD":
            if self.two_person:
                return 202, {"status": "pending", "pending_id": 1}
            return self._load(dict(body["args"]))
        if path.startswith("/api/commands/sent/"):
            return 200, {"status": self.sent[int(path.rsplit("/", 1)[1])]}
        raise AssertionError(f"unexpected {method} {path}")

    def _load(self, args: dict[str, Any]) -> tuple[int, Any]:
        ident = len(self.sent) + 1
        table = LimitsTable(args["version"], args["max_burn_ms"], bool(args["thruster_enabled"]))
        try:
            self.tables.load(args["table"], table, bytes.fromhex(args["signature"]))
            self.sent[ident] = "completed"
        except TableRefused:
            self.sent[ident] = "failed"
        return 201, {"id": ident, "status": "sent"}

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        raise BackendError("exec", "not used")

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        raise BackendError("vantage", "not used")

    def restart(self, host: str) -> None:
        raise BackendError("restart", "not used")


def spacecraft(tmp_path: Path, verify: bool = True, anti_rollback: bool = True) -> FakeTableRange:
    config = TablesConfig(verify, anti_rollback, public_key(SEED), LimitsTable(1, 3000, True))
    return FakeTableRange(OnboardTables(config, tmp_path))


def tampered(probe: FakeTableRange) -> None:
    probe.tables.load(1, LimitsTable(2, 60000, True), sign(SEED, LimitsTable(2, 4000, True)))


def test_tampered_is_judged_by_the_graders_own_verification(tmp_path: Path) -> None:
    probe = spacecraft(tmp_path, verify=False, anti_rollback=False)
    check, args = TableTamperedActive(), PublicKeyArgs(public_key=PUBLIC)
    assert check.judge(args, probe).status is Status.FAIL  # the configured table
    probe.tables.load(1, LimitsTable(2, 4000, True), sign(SEED, LimitsTable(2, 4000, True)))
    assert check.judge(args, probe).status is Status.FAIL  # flight dynamics' own
    tampered(probe)
    result = check.judge(args, probe)
    assert result.status is Status.PASS
    assert "60000" in result.evidence
    assert TableTrustedActive().judge(args, probe).status is Status.FAIL


def test_a_lying_spacecraft_does_not_make_a_table_trusted(tmp_path: Path) -> None:
    probe = spacecraft(tmp_path, verify=False)
    tampered(probe)
    document = probe.truth()
    document["tables"]["limits"]["verified"] = True  # what the spacecraft says
    probe.truth = lambda: document  # type: ignore[method-assign]
    args = PublicKeyArgs(public_key=PUBLIC)
    assert TableTrustedActive().judge(args, probe).status is Status.FAIL


def test_forged_load_refused_only_when_the_spacecraft_verifies(tmp_path: Path) -> None:
    args = TableLoadRefusedArgs(within=5)
    open_door = spacecraft(tmp_path / "a", verify=False)
    result = TableLoadRefused().judge(args, open_door)
    assert result.status is Status.FAIL
    assert open_door.tables.limits.table == LimitsTable(2, 3000, True)  # the same limits
    rollback_only = spacecraft(tmp_path / "c", verify=False, anti_rollback=True)
    assert TableLoadRefused().judge(args, rollback_only).status is Status.FAIL
    closed = spacecraft(tmp_path / "b")
    assert TableLoadRefused().judge(args, closed).status is Status.PASS


def test_rollback_refused_only_with_anti_rollback(tmp_path: Path) -> None:
    args = TableRollbackRefusedArgs(signing_key=SEED.hex())
    loose = spacecraft(tmp_path / "a", anti_rollback=False)
    assert TableRollbackRefused().judge(args, loose).status is Status.FAIL
    assert loose.tables.limits.table.max_burn_ms == 1000  # the harmless table it tried
    strict = spacecraft(tmp_path / "b")
    assert TableRollbackRefused().judge(args, strict).status is Status.PASS


def test_signed_load_accepted_takes_the_next_version(tmp_path: Path) -> None:
    probe = spacecraft(tmp_path)
    args = TableLoadAcceptedArgs(signing_key=SEED.hex(), max_burn_ms=4000)
    for expected in (2, 3):
        assert TableLoadAccepted().judge(args, probe).status is Status.PASS
        assert probe.tables.limits.table.version == expected


def test_signed_load_fails_when_the_key_on_board_is_another(tmp_path: Path) -> None:
    probe = spacecraft(tmp_path)
    args = TableLoadAcceptedArgs(signing_key=bytes(range(1, 33)).hex())
    result = TableLoadAccepted().judge(args, probe)
    assert result.status is Status.FAIL
    assert "not applied" in result.evidence


def test_a_held_load_is_no_verdict(tmp_path: Path) -> None:
    probe = spacecraft(tmp_path)
    probe.two_person = True
    result = TableLoadRefused().judge(TableLoadRefusedArgs(within=5), probe)
    assert result.status is Status.ERROR


def test_truth_without_tables_is_an_error(tmp_path: Path) -> None:
    probe = spacecraft(tmp_path)
    probe.truth = dict  # type: ignore[method-assign]
    with pytest.raises(CheckError):
        TableTrustedActive().judge(PublicKeyArgs(public_key=PUBLIC), probe)


def test_keys_are_checked_arguments() -> None:
    with pytest.raises(ValidationError):
        PublicKeyArgs(public_key="00" * 16)
    with pytest.raises(ValidationError):
        TableLoadAcceptedArgs(signing_key="zz" * 32)
