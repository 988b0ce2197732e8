"""Configuration: the commented example loads, mistakes give one line, exit status 2."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from labctl.range.hosts.config import Config, HostConfigError
from labctl.range.hosts.missioncontrol.__main__ import main
from labctl.range.hosts.missioncontrol.passwords import (
    check_hash_format,
    hash_password,
    verify_hash,
    verify_plaintext,
)
from labctl.range.hosts.missioncontrol.settings import Role, load_settings, settings_from

EXAMPLE = Path(__file__).parents[4] / "containers" / "mission-control" / "mission-control.yaml"


def test_the_commented_example_loads() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.users["admin"].role is Role.FLIGHT_DIRECTOR
    assert settings.users["admin"].password == "admin"  # the default-credentials weakness
    assert settings.policy.hazardous_requires is Role.FLIGHT_DIRECTOR
    assert (settings.ground_host, settings.ground_port) == ("ground-station", 10025)
    assert settings.listen_port == 8080
    hashed = settings.users["flight"].password_hash
    assert hashed is not None
    assert verify_hash("flight-director-example", hashed)


BASE: dict[str, Any] = {"users": {"a": {"role": "viewer", "password": "p"}}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"users": {}}, "test.yaml: users: at least one user is needed"),
        (
            {"users": {"a": {"role": "pilot", "password": "p"}}},
            "users.a.role: unknown role 'pilot'",
        ),
        ({"users": {"a": {"role": "viewer"}}}, "users.a.password: give exactly one of"),
        (
            {"users": {"a": {"password": "p", "password_hash": "scrypt$1"}}},
            "users.a.password: give exactly one of",
        ),
        ({"users": {"a": {"password_hash": "md5$x"}}}, "users.a.password_hash: bad password hash"),
        ({"users": {"a b": {"password": "p"}}}, "users.a b: user names are"),
        ({"policy": {"hazardous_requires": "anyone"}}, "policy.hazardous_requires: unknown role"),
        ({"policy": {"login_lockout": {"attempts": -1}}}, "policy.login_lockout.attempts: must"),
        ({"ground_station": {"port": 70000}}, "ground_station.port: port 70000 not in 1..65535"),
        ({"ground_station": {"port": "x"}}, "ground_station.port: expected int, got 'x'"),
        ({"sessions": {"lifetime_s": 0}}, "sessions.lifetime_s: must be > 0"),
        ({"database": []}, "database: expected a mapping"),
    ],
)
def test_bad_values_name_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(HostConfigError) as error:
        settings_from(Config({**BASE, **change}, "test.yaml"))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_main_prints_one_line_and_exits_2_on_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "mc.yaml"
    bad.write_text("users:\n  admin: {role: root, password: admin}\n")
    assert main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    expected = "users.admin.role: unknown role 'root'; expected one of viewer, operator,"
    assert err == f"mission-control: {bad}: {expected} flight-director\n"
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2


def test_hash_password_option_prints_a_usable_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert main(["--hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_hash("s3cret", printed)


def test_password_hashes_and_plaintext_compare() -> None:
    stored = hash_password("correct horse")
    assert verify_hash("correct horse", stored)
    assert not verify_hash("correct horsf", stored)
    assert stored != hash_password("correct horse")  # salted
    digest = hashlib.pbkdf2_hmac("sha256", b"pw", b"saltsalt", 1000)
    pbkdf2 = "pbkdf2_sha256$1000$c2FsdHNhbHQ$" + base64.urlsafe_b64encode(digest).decode()
    assert verify_hash("pw", pbkdf2)
    assert not verify_hash("pW", pbkdf2)
    assert verify_plaintext("admin", "admin")
    assert not verify_plaintext("admin ", "admin")
    for bad in ("", "scrypt$3$8$1$AA$AAAA", "scrypt$16384$8$1$AA$AA", "pbkdf2_sha256$0$AA$AA"):
        with pytest.raises(ValueError, match="bad password hash"):
            check_hash_format(bad)


def test_a_shared_station_s_customer_credentials_are_read(tmp_path: Path) -> None:
    (tmp_path / "access.key").write_text("ab" * 16 + "\n")
    access = {"customer": "mission", "secret_file": str(tmp_path / "access.key"), "period_s": 30}
    settings = settings_from(Config({**BASE, "ground_station": {"access": access}}, "t.yaml"))
    assert settings.ground_access is not None
    assert (settings.ground_access.customer, settings.ground_access.period) == ("mission", 30.0)
    assert settings.ground_access.secret == bytes.fromhex("ab" * 16)
    assert "ab" * 16 not in repr(settings.ground_access)
    assert settings_from(Config(BASE, "t.yaml")).ground_access is None


@pytest.mark.parametrize(
    ("access", "message"),
    [
        ({"secret_file": "x"}, "ground_station.access.customer: missing"),
        ({"customer": "a b", "secret_file": "x"}, "ground_station.access.customer: 1-32"),
        ({"customer": "m", "secret_file": "/nonexistent"}, "access.secret_file: /nonexistent"),
        ({"customer": "m", "secret": "x"}, "ground_station.access.secret: unknown key"),
    ],
)
def test_bad_station_access_names_the_key(access: dict[str, Any], message: str) -> None:
    with pytest.raises(HostConfigError) as error:
        settings_from(Config({**BASE, "ground_station": {"access": access}}, "t.yaml"))
    assert message in str(error.value)
