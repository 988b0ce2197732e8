"""The host checks (SSH, key files, old keys, unsent commands) against a fake station."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from graders.checks import hosts
from graders.checks.base import HostFileStat, Status
from graders.checks.hosts import (
    FilePrivate,
    FilePrivateArgs,
    OldKeyRejected,
    OldKeyRejectedArgs,
    SshPasswordRefused,
    SshPasswordRefusedArgs,
    UnsentCommandExecuted,
    UnsentCommandExecutedArgs,
    unsent,
)
from labctl.errors import BackendError
from labctl.protocols.sdls import Keyring, SdlsEngine, SecurityAssociation
from labctl.protocols.tc_frame import FrameKind, TcFrame
from labctl.range.vantage import keyed as vantage_keyed
from labctl.range.vantage import ssh as vantage_ssh

OLD_KEY = "00112233445566778899aabbccddeeff"
NEW_KEY = "ffeeddccbbaa99887766554433221100"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosts, "SETTLE_S", 0.2)


@dataclass
class FakeStation:
    """sshd, a file system and a spacecraft with uplink SAs, as the checks observe them.

    ``modes`` is the file system as the container engine reads it; the station's own
    ``stat`` and ``sshd -T`` say what ``stat_says`` and ``sshd_t`` say (root there may
    have replaced them)."""

    methods: tuple[str, ...] = ("password", "publickey")
    password: str = "dragon"
    modes: dict[str, str] = field(default_factory=lambda: {"/etc/labctl/uplink.key": "644"})
    #: directories as the engine reads them: path -> mode
    dirs: dict[str, int] = field(default_factory=lambda: {"/etc": 0o755, "/etc/labctl": 0o755})
    #: symbolic links to places the engine does not see (a tmpfs): path -> target
    links: dict[str, str] = field(default_factory=dict)
    #: what the station's own ``stat`` prints, whatever the file is (None: the truth)
    stat_says: str | None = None
    host_execs: list[list[str]] = field(default_factory=list)
    #: spi -> [state, key, last sequence number]
    sas: dict[int, list[Any]] = field(
        default_factory=lambda: {40: ["OPERATIONAL", OLD_KEY, 6], 200: ["KEYED", NEW_KEY, 0]}
    )
    executed: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    forged: list[list[str]] = field(default_factory=list)
    #: The station commands through the SA too (the fix moved it there): its frame with
    #: the sequence number the forgery used executes, under the new key.
    station_sends: bool = False
    #: sshd does not answer the grader vantage (the attacker's rf and corp networks)
    down: bool = False
    #: the station's networks and its address on each
    networks: dict[str, str] = field(
        default_factory=lambda: {"ground": "10.0.2.3", "rf": "10.0.1.3"}
    )
    #: networks where sshd answers a one-network vantage: network -> methods offered
    answers_on: dict[str, tuple[str, ...]] = field(default_factory=dict)
    vantages_on: list[str] = field(default_factory=list)
    #: ``sshd -T`` output (effective configuration); None: the command fails
    sshd_t: str | None = None
    #: uplink frames the spacecraft received (its frames_received counter)
    received: int = 0
    #: the air loses the vantage's frames (an rf-link down)
    lost: bool = False

    def truth(self) -> dict[str, Any]:
        if self.down:
            raise BackendError("exec cat in spacecraft", "no such container")
        sas = [
            {"spi": spi, "direction": "uplink", "state": s, "sequence_number": n}
            for spi, (s, _, n) in self.sas.items()
        ]
        return {
            "scid": 321,
            "counters": {"frames_received": self.received},
            "security_associations": sas,
            "executed_commands": list(self.executed),
            "rejected_frames": list(self.rejected),
        }

    def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        options = dict(zip(argv[3::2], argv[4::2], strict=False))
        if argv[2] == "labctl.range.vantage.ssh":
            return self._ssh(options)
        self.forged.append(list(argv))
        return self._receive(options["--key"], int(options["--spi"]), int(options["--arsn"]))

    def _ssh(
        self, options: Mapping[str, str], methods: tuple[str, ...] | None = None
    ) -> tuple[int, str]:
        if methods is None and self.down:
            return 2, json.dumps({"error": "ground-station:22: [Errno 111] Connection refused"})
        methods = self.methods if methods is None else methods
        good = options["--password"] == self.password
        report: dict[str, Any] = {"methods": list(methods), "password": None}
        report["keyboard_interactive"] = None
        if "password" in methods:
            report["password"] = good
        if "keyboard-interactive" in methods:
            report["keyboard_interactive"] = good
        return 0, json.dumps(report)

    def host_networks(self, host: str) -> dict[str, str]:
        return dict(self.networks)

    def vantage_exec_on(
        self, network: str, argv: Sequence[str], timeout: float = 60.0
    ) -> tuple[int, str]:
        self.vantages_on.append(network)
        options = dict(zip(argv[3::2], argv[4::2], strict=False))
        assert options["--host"] == self.networks[network]
        if network not in self.answers_on:
            error = f"{options['--host']}:22: [Errno 111] Connection refused"
            return 2, json.dumps({"error": error})
        return self._ssh(options, self.answers_on[network])

    def _receive(self, key: str, spi: int, arsn: int) -> tuple[int, str]:
        fingerprint = f"{arsn:04x}{key[:12]}"
        sent = json.dumps({"sent": "PING", "spi": spi, "arsn": arsn, "fingerprint": fingerprint})
        if self.station_sends:  # the station's own next frame, under the same number
            self.executed.append(
                {**command("PING", spi=spi, seq=arsn, source=0), "frame_digest": "5" * 16}
            )
        if self.lost:
            return 0, sent
        self.received += 1
        sa = self.sas.get(spi)
        if sa is None:
            self.rejected.append({"reason": "bad_sa", "spi": spi})
        elif sa[0] != "OPERATIONAL":
            self.rejected.append({"reason": "sa_not_operational", "spi": spi})
        elif sa[1] != key:
            self.rejected.append({"reason": "bad_mac", "spi": spi})
        elif arsn <= sa[2]:
            self.rejected.append({"reason": "bad_sn", "spi": spi})
        else:
            sa[2] = arsn
            forged = command("PING", spi=spi, seq=arsn, source=0xFE4B)
            self.executed.append({**forged, "frame_digest": fingerprint})
        return 0, sent

    def host_exec(self, host: str, argv: Sequence[str], user: str = "root") -> tuple[int, str]:
        self.host_execs.append(list(argv))
        if list(argv) == ["/usr/sbin/sshd", "-T"]:
            return (1, "sshd: no hostkeys") if self.sshd_t is None else (0, self.sshd_t)
        path = argv[-1]
        if self.stat_says is not None:
            return 0, self.stat_says
        if path not in self.modes:
            return 1, f"stat: cannot statx '{path}': No such file or directory"
        return 0, f"{self.modes[path]} labctl labctl\n"

    def host_read(self, host: str, path: str) -> bytes | None:
        raise BackendError(f"read {path} in {host}", "the fake reads no files")

    def host_stat(self, host: str, path: str) -> HostFileStat | None:
        followed = path.endswith("/")
        path = path.rstrip("/") or "/"
        if path in self.links:
            return None if followed else HostFileStat(0o777, 0, 0)
        if path in self.dirs:
            return HostFileStat(self.dirs[path], 10001, 10001)
        if path in self.modes and not followed:
            return HostFileStat(int(self.modes[path], 8), 10001, 10001)
        return None

    def api(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        if path == "/api/login":
            return 200, {"token": "t"}
        if path.startswith("/api/commands/sent"):
            return 200, {"commands": list(self.sent)}
        return 404, {"detail": "not found"}

    def credentials(self, role: str) -> tuple[str, str]:
        return role, "secret"

    def restart(self, host: str) -> None:
        pass


def command(name: str, spi: int = 40, seq: int = 1, source: int = 0, **args: int) -> dict[str, Any]:
    service, subtype = (17, 1) if name == "PING" else (8, 1)
    return {
        "service": service,
        "subtype": subtype,
        "name": name,
        "args": args,
        "spi": spi,
        "sequence_number": seq,
        "source_id": source,
    }


# --- ssh_password_refused ----------------------------------------------------------------


def ssh(station: FakeStation, password: str = "dragon") -> Any:
    args = SshPasswordRefusedArgs(username="flightops", password=password)
    return SshPasswordRefused().run(args, station)


def test_password_login_that_works_fails_the_check() -> None:
    result = ssh(FakeStation())
    assert result.status is Status.FAIL
    assert "logged in with the password" in result.evidence
    assert "password, publickey" in result.evidence


def test_password_offered_but_wrong_still_fails() -> None:
    result = ssh(FakeStation(), password="not-it")
    assert result.status is Status.FAIL
    assert "a password can still be typed (password)" in result.evidence


def test_keyboard_interactive_counts_as_a_password_method() -> None:
    station = FakeStation(methods=("keyboard-interactive", "publickey"))
    assert ssh(station).status is Status.FAIL
    assert "keyboard-interactive" in ssh(station, "wrong").evidence


def test_keys_only_passes_and_names_the_methods() -> None:
    result = ssh(FakeStation(methods=("publickey",)))
    assert result.status is Status.PASS
    assert "offers only publickey" in result.evidence


KEYS_ONLY_SAYS_SSHD_T: Final = (
    "port 22\npasswordauthentication no\nkbdinteractiveauthentication no\n"
)


def test_unreachable_sshd_is_an_error_with_the_reason() -> None:
    result = ssh(FakeStation(down=True))
    assert result.status is Status.ERROR
    assert "Connection refused" in result.evidence


def test_unreachable_sshd_is_not_judged_from_what_the_host_says() -> None:
    # Root on the station can make `sshd -T` print anything: what the vantage cannot
    # observe is an error, never a pass, and the host is not asked.
    station = FakeStation(down=True, sshd_t=KEYS_ONLY_SAYS_SSHD_T)
    result = ssh(station)
    assert result.status is Status.ERROR
    assert "cannot observe" in result.evidence
    assert station.host_execs == []


def test_sshd_on_the_ground_network_only_is_observed_from_there() -> None:
    station = FakeStation(down=True, answers_on={"ground": ("publickey",)})
    result = ssh(station)
    assert result.status is Status.PASS
    assert "from the ground network" in result.evidence
    assert "offers only publickey" in result.evidence
    assert "Connection refused" in result.evidence  # why the attacker's side saw nothing
    assert station.vantages_on == ["ground"]  # rf is one of the grader vantage's own


def test_passwords_on_the_ground_network_only_still_fail() -> None:
    station = FakeStation(down=True, answers_on={"ground": ("password", "publickey")})
    result = ssh(station, password="wrong")
    assert result.status is Status.FAIL
    assert "from the ground network" in result.evidence
    assert "a password can still be typed" in result.evidence


def test_an_sshd_no_network_reaches_is_an_error_after_trying_each() -> None:
    station = FakeStation(down=True, networks={"ground": "10.0.2.3", "rf": "10.0.1.3", "x": "1"})
    result = ssh(station)
    assert result.status is Status.ERROR
    assert station.vantages_on == ["ground", "x"]
    assert "ground" in result.evidence
    assert "x" in result.evidence


def test_sshd_t_saying_no_does_not_hide_a_password_the_server_offers() -> None:
    station = FakeStation(sshd_t=KEYS_ONLY_SAYS_SSHD_T)
    result = ssh(station, password="wrong")
    assert result.status is Status.FAIL
    assert "a password can still be typed (password)" in result.evidence
    assert station.host_execs == []


def test_a_server_that_takes_none_fails() -> None:
    assert ssh(FakeStation(methods=("none",))).status is Status.FAIL


# --- file_private -------------------------------------------------------------------------


def private(station: FakeStation, path: str = "/etc/labctl/uplink.key", **kw: Any) -> Any:
    return FilePrivate().run(FilePrivateArgs(path=path, **kw), station)


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        ("644", Status.FAIL),
        ("640", Status.FAIL),
        ("604", Status.FAIL),
        ("600", Status.PASS),
        ("400", Status.PASS),
        ("700", Status.PASS),
    ],
)
def test_file_private_judges_group_and_other_bits(mode: str, status: Status) -> None:
    result = private(FakeStation(modes={"/etc/labctl/uplink.key": mode}))
    assert result.status is status
    assert f"mode {int(mode, 8):04o}" in result.evidence


def test_missing_file_fails_unless_missing_ok() -> None:
    station = FakeStation(modes={})
    assert private(station).status is Status.FAIL
    result = private(station, missing_ok=True)
    assert result.status is Status.PASS
    assert "no longer exists" in result.evidence


def test_file_private_on_a_host_the_engine_cannot_read_is_an_error() -> None:
    class NoSuchHost(FakeStation):
        def host_stat(self, host: str, path: str) -> HostFileStat | None:
            raise BackendError(f"stat {path}", f"no host named {host!r}")

    result = FilePrivate().run(FilePrivateArgs(host="groundstation", path="/etc/k"), NoSuchHost())
    assert result.status is Status.ERROR
    assert "no host named 'groundstation'" in result.evidence


def test_a_report_without_methods_is_no_answer_not_a_pass() -> None:
    class Mute(FakeStation):
        def _ssh(
            self, options: Mapping[str, str], methods: tuple[str, ...] | None = None
        ) -> tuple[int, str]:
            return 0, json.dumps({"password": None})

    result = ssh(Mute(networks={"rf": "10.0.1.3"}))
    assert result.status is Status.ERROR
    assert "lists no methods" in result.evidence


def test_file_private_rejects_relative_paths() -> None:
    with pytest.raises(ValueError, match="path"):
        FilePrivateArgs(path="etc/labctl/uplink.key")


def test_file_private_reads_the_mode_from_the_engine_not_the_hosts_stat() -> None:
    # Root on the station replaced stat with a script that always says 0600.
    station = FakeStation(stat_says="600 labctl labctl\n")
    result = private(station)
    assert result.status is Status.FAIL
    assert "mode 0644" in result.evidence
    assert station.host_execs == []


def test_file_private_gives_owner_ids_as_the_engine_reads_them() -> None:
    result = private(FakeStation(modes={"/etc/labctl/uplink.key": "600"}))
    assert result.status is Status.PASS
    assert "owner uid 10001, gid 10001" in result.evidence


def test_a_symbolic_link_is_judged_as_itself_and_fails() -> None:
    station = FakeStation(links={"/etc/labctl/uplink.key": "/tmp/uplink.key"})
    result = private(station)
    assert result.status is Status.FAIL
    assert "symbolic link" in result.evidence


@pytest.mark.parametrize("missing_ok", [True, False])
@pytest.mark.parametrize("ancestor", ["/etc", "/etc/labctl"])
def test_missing_behind_a_link_out_of_the_engines_sight_is_an_error(
    ancestor: str, missing_ok: bool
) -> None:
    # /etc/labctl -> /tmp/labctl: the key lives on in the tmpfs, where the engine's
    # archive API does not look, so the path reads as missing there.
    station = FakeStation(modes={}, links={ancestor: "/tmp/labctl"})
    del station.dirs[ancestor]
    result = private(station, missing_ok=missing_ok)
    assert result.status is Status.ERROR
    assert f"{ancestor} is not a directory" in result.evidence


def test_missing_under_a_missing_directory_still_counts_as_gone() -> None:
    station = FakeStation(modes={}, dirs={"/etc": 0o755})
    result = private(station, missing_ok=True)
    assert result.status is Status.PASS
    assert "no longer exists" in result.evidence


@pytest.mark.parametrize("path", ["/tmp/uplink.key", "/run/labctl/key", "/var/tmp/k", "/proc/1/x"])
def test_file_private_refuses_paths_the_engine_cannot_see(path: str) -> None:
    with pytest.raises(ValueError, match="tmpfs"):
        FilePrivateArgs(path=path)


@pytest.mark.parametrize("path", ["/etc/../tmp/uplink.key", "/etc//labctl/k", "/etc/./k"])
def test_file_private_wants_plain_paths(path: str) -> None:
    with pytest.raises(ValueError, match="plainly"):
        FilePrivateArgs(path=path)


# --- old_key_rejected ---------------------------------------------------------------------


def old_key(station: FakeStation, spi: int = 40) -> Any:
    return OldKeyRejected().run(OldKeyRejectedArgs(key=OLD_KEY, spi=spi), station)


def test_old_key_still_operational_fails_with_the_next_sequence_number() -> None:
    station = FakeStation()
    result = old_key(station)
    assert result.status is Status.FAIL
    assert "sequence number 7): executed" in result.evidence
    argv = station.forged[0]
    assert argv[argv.index("--scid") + 1] == "321"
    assert argv[argv.index("--command") + 1] == "PING"


def test_old_sa_retired_passes_with_the_spacecraft_reason() -> None:
    station = FakeStation()
    station.sas[40][0] = "UNKEYED"
    result = old_key(station)
    assert result.status is Status.PASS
    assert "sa_not_operational" in result.evidence


def test_key_rotated_on_the_same_spi_passes_as_bad_mac() -> None:
    station = FakeStation()
    station.sas[40][1] = NEW_KEY
    result = old_key(station)
    assert result.status is Status.PASS
    assert "bad_mac" in result.evidence


def test_the_stations_own_frame_under_the_same_number_is_not_the_forgery() -> None:
    station = FakeStation(station_sends=True)
    station.sas[40][1] = NEW_KEY
    result = old_key(station)
    assert result.status is Status.PASS, result.evidence
    assert "bad_mac" in result.evidence
    still = FakeStation(station_sends=True)  # the old key still works: both executed
    assert old_key(still).status is Status.FAIL


def test_unknown_spi_is_tried_with_sequence_number_one() -> None:
    station = FakeStation()
    result = old_key(station, spi=77)
    assert result.status is Status.PASS
    assert "sequence number 1" in result.evidence
    assert "bad_sa" in result.evidence


def test_unrendered_arguments_are_an_error_rather_than_a_guess() -> None:
    args = OldKeyRejectedArgs(key="{{ params.uplink_key }}", spi="{{ params.uplink_spi }}")
    result = OldKeyRejected().run(args, FakeStation())
    assert result.status is Status.ERROR
    assert "not rendered" in result.evidence


def test_old_key_rejected_with_the_spacecraft_down_is_an_error() -> None:
    result = old_key(FakeStation(down=True))
    assert result.status is Status.ERROR
    assert "could not observe" in result.evidence


def test_an_old_key_frame_that_never_arrives_is_an_error_not_a_pass() -> None:
    station = FakeStation(lost=True)
    station.sas[40][0] = "UNKEYED"
    result = old_key(station)
    assert result.status is Status.ERROR, result.evidence
    assert "received no uplink frame" in result.evidence


def test_old_key_rejected_without_a_spacecraft_id_or_a_vantage_is_an_error() -> None:
    class Anonymous(FakeStation):
        def truth(self) -> dict[str, Any]:
            return {k: v for k, v in super().truth().items() if k != "scid"}

    assert old_key(Anonymous()).status is Status.ERROR

    class Mute(FakeStation):
        def vantage_exec(self, argv: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
            return 1, "Traceback: no route"

    result = old_key(Mute())
    assert result.status is Status.ERROR
    assert "could not transmit" in result.evidence


# --- unsent_command_executed ----------------------------------------------------------------


def test_a_command_mission_control_sent_does_not_count() -> None:
    station = FakeStation(
        executed=[command("PAYLOAD_ON"), command("THRUSTER_FIRE", duration_ms=500)],
        sent=[
            {"name": "PAYLOAD_ON", "args": {}},
            {"name": "THRUSTER_FIRE", "args": {"duration_ms": 500}},
        ],
    )
    result = UnsentCommandExecuted().run(UnsentCommandExecutedArgs(command="8.1"), station)
    assert result.status is Status.FAIL


def test_an_unsent_command_passes_with_its_arguments() -> None:
    station = FakeStation(
        executed=[command("PAYLOAD_ON", seq=3), command("THRUSTER_FIRE", seq=4, duration_ms=2600)],
        sent=[{"name": "PAYLOAD_ON", "args": {}}],
    )
    result = UnsentCommandExecuted().run(UnsentCommandExecutedArgs(command="8.1"), station)
    assert result.status is Status.PASS
    assert "THRUSTER_FIRE {'duration_ms': 2600}" in result.evidence
    assert "sequence number 4" in result.evidence


def test_the_same_command_twice_but_sent_once_counts_once() -> None:
    ran = [command("PING", seq=1), command("PING", seq=2)]
    assert unsent(ran, [{"name": "PING", "args": {}}]) == [ran[1]]
    assert unsent(ran, [{"name": "PING", "args": {}}] * 2) == []


def test_different_arguments_are_different_commands() -> None:
    ran = [command("THRUSTER_FIRE", duration_ms=9)]
    assert unsent(ran, [{"name": "THRUSTER_FIRE", "args": {"duration_ms": 10}}]) == ran


def test_the_graders_own_forgeries_are_left_out() -> None:
    station = FakeStation(executed=[command("PING", source=0xFE4B)])
    assert UnsentCommandExecuted().run(UnsentCommandExecutedArgs(), station).status is Status.FAIL


def test_unreadable_sent_commands_are_an_error() -> None:
    class Closed(FakeStation):
        def api(
            self,
            method: str,
            path: str,
            body: Mapping[str, Any] | None = None,
            token: str | None = None,
        ) -> tuple[int, Any]:
            return (503, "busy") if "sent" in path else super().api(method, path, body, token)

    station = Closed(executed=[command("PING")])
    result = UnsentCommandExecuted().run(UnsentCommandExecutedArgs(), station)
    assert result.status is Status.ERROR
    assert "HTTP 503" in result.evidence


def test_the_command_filter_applies() -> None:
    station = FakeStation(executed=[command("PING")])
    args = UnsentCommandExecutedArgs(command="8.1")
    assert UnsentCommandExecuted().run(args, station).status is Status.FAIL
    assert UnsentCommandExecuted().run(UnsentCommandExecutedArgs(), station).status is Status.PASS


# --- the vantage modules --------------------------------------------------------------------


def receiver(key: str, spi: int = 40, last: int = 6) -> SdlsEngine:
    association = SecurityAssociation(spi, sequence_number=last)
    return SdlsEngine.of([association], Keyring({0: bytes.fromhex(key)}))


def test_forged_frame_is_a_bd_frame_the_right_key_accepts() -> None:
    raw = vantage_keyed.forged_frame(bytes.fromhex(OLD_KEY), 40, 321, 7, command="PING")
    frame = TcFrame.decode(raw)
    assert (frame.kind, frame.scid) == (FrameKind.BD, 321)
    verdict = receiver(OLD_KEY).verify_tc(frame)
    assert verdict.accepted
    assert verdict.sequence_number == 7
    assert not receiver(NEW_KEY).verify_tc(frame).accepted
    assert not receiver(OLD_KEY, last=7).verify_tc(frame).accepted  # replay window


def test_forged_frame_refuses_bad_input() -> None:
    key = bytes.fromhex(OLD_KEY)
    with pytest.raises(ValueError, match="mission database"):
        vantage_keyed.forged_frame(key, 40, 321, 7, command="LAUNCH")
    with pytest.raises(ValueError, match="starts at 1"):
        vantage_keyed.forged_frame(key, 40, 321, 0)
    with pytest.raises(ValueError, match="16, 24 or 32"):
        vantage_keyed.forged_frame(b"short", 40, 321, 7)


def test_vantage_keyed_main_reports_bad_keys_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--key", "zz", "--spi", "1", "--scid", "2", "--arsn", "3"]
    assert vantage_keyed.main(argv) == 2
    assert "error" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_vantage_ssh_reports_an_unreachable_server_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert vantage_ssh.main(["--host", "127.0.0.1", "--port", "1", "--username", "x"]) == 2
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["error"].startswith("127.0.0.1:1:")
