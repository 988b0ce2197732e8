"""Each adversary action against in-process fakes: UDP sockets on loopback for the air and
the rf-link, a tiny HTTP server for mission control, a paramiko server for SSH; the log
format; hostile bytes from the network."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import paramiko
import pytest

from labctl.protocols.pus import PusTc
from labctl.protocols.tc_frame import (
    Bypass,
    ControlCommand,
    FrameKind,
    TcFrame,
    decode_control_command,
    segment,
)
from labctl.range.adversary.action import Context, OwnFrames, Targets, action_registry
from labctl.range.adversary.actions import BUILTIN_ACTIONS, run_action
from labctl.range.adversary.logfile import entry_time, parse_log, sent_frames
from labctl.range.adversary.runner import AdversaryLog, run
from labctl.range.adversary.timeline import parse_timeline
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.spec import default_vocabulary
from labctl.spec.params import wordlist

LOOPBACK = "127.0.0.1"
SCID, SPI, IV = 321, 0x0042, 7


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class FakeRfLink:
    """Records every datagram sent to the uplink input."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.received.append(self.sock.recv(4096))
            except TimeoutError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def frames(self) -> list[TcFrame]:
        return [TcFrame.decode(d) for d in self.received]


@pytest.fixture
def rf() -> Iterator[FakeRfLink]:
    link = FakeRfLink()
    yield link
    link.close()


def context(rf: FakeRfLink | None = None, **changes: Any) -> Context:
    targets = Targets(
        uplink_in=rf.address if rf else (LOOPBACK, free_udp_port()),
        uplink_air=free_udp_port(),
        downlink_air=free_udp_port(),
        listen=LOOPBACK,
        mission_control=changes.pop("mission_control", "http://127.0.0.1:9"),
        ssh=changes.pop("ssh", (LOOPBACK, 9)),
    )
    return Context(targets=targets, **{"listen_timeout": 3.0, "gap": 0.0, **changes})


def operator_frame(seq: int, iv: int = IV) -> bytes:
    """An AD frame as the ground station sends it: segment header, SPI, IV, ciphertext, MAC."""
    body = SPI.to_bytes(2, "big") + iv.to_bytes(12, "big") + bytes(range(20)) + bytes(16)
    return TcFrame(SCID, 0, segment(0, body), seq).encode()


def transmit_later(port: int, datagrams: list[bytes], delay: float = 0.3) -> threading.Thread:
    def send() -> None:
        time.sleep(delay)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in datagrams:
                sock.sendto(datagram, (LOOPBACK, port))

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def model(action: str) -> Any:
    entry = action_registry().get(action)
    assert entry is not None
    return entry.args


def args(action: str, **values: Any) -> Any:
    return model(action).model_validate(values)


def test_the_adversary_and_the_spec_read_the_same_action_classes() -> None:
    names = sorted(action.name for action in BUILTIN_ACTIONS)
    assert action_registry().names() == names
    assert default_vocabulary().actions.names() == names
    for action in BUILTIN_ACTIONS:
        entry = default_vocabulary().actions.get(action.name)
        assert entry is not None
        assert entry.target is action


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


# -- radio ---------------------------------------------------------------------------------
def test_replay_captures_ad_frames_ignoring_noise_and_replays_each_in_sequence(
    rf: FakeRfLink,
) -> None:
    ctx = context(rf)
    hostile = [b"", b"\x00", b"\xff" * 3000, operator_frame(5)[:-1], b"garbage" * 10]
    bc = TcFrame(SCID, 0, b"\x00", 0, Bypass.TYPE_B, 1).encode()  # a directive: not replayed
    heard = [*hostile, bc, operator_frame(5), operator_frame(5), operator_frame(6, iv=8)]
    transmit_later(ctx.targets.uplink_air, heard)
    result = run_action("replay_telecommands", args("replay_telecommands", count=2), ctx)
    assert result.outcome == "done", result
    assert result.success is None, result
    assert [(f["spi"], f["sn"], f["frame_seq"]) for f in result.facts["frames"]] == [
        (SPI, IV, 5),
        (SPI, 8, 6),
    ]
    wait_until(lambda: len(rf.received) >= 6)
    frames = rf.frames()
    assert [f.kind for f in frames] == [FrameKind.BC, FrameKind.AD, FrameKind.BC] * 2
    assert decode_control_command(frames[0].data) == (ControlCommand.SET_VR, 5)
    assert rf.received[1] == operator_frame(5)
    assert decode_control_command(frames[2].data) == (ControlCommand.SET_VR, 6)
    assert ctx.link == (SCID, 0)


def test_replay_skips_what_the_adversary_itself_transmitted(rf: FakeRfLink) -> None:
    """The rf-link relays the adversary's own flood back onto the air: not a capture."""
    ctx = context(rf)
    mine = TcFrame(SCID, 0, b"flood-garbage", 77).encode()
    ctx.own.add(mine)
    transmit_later(ctx.targets.uplink_air, [mine, operator_frame(9)])
    result = run_action("replay_telecommands", args("replay_telecommands", count=1), ctx)
    assert [f["frame_seq"] for f in result.facts["frames"]] == [9]


def test_own_frames_forget_the_oldest_beyond_their_size() -> None:
    own = OwnFrames(size=2)
    for datagram in (b"a", b"b", b"c"):
        own.add(datagram)
    assert b"a" not in own
    assert b"b" in own
    assert b"c" in own


def test_replay_with_nothing_heard_fails_after_the_bounded_wait(rf: FakeRfLink) -> None:
    ctx = context(rf, listen_timeout=0.5)
    began = time.monotonic()
    result = run_action("replay_telecommands", args("replay_telecommands"), ctx)
    assert result.outcome == "failed"
    assert "no uplink AD frame heard" in result.detail
    assert time.monotonic() - began < 2.0
    assert rf.received == []


@pytest.mark.parametrize("bypass", [True, False])
def test_inject_frames_learns_the_scid_and_forges_a_command(rf: FakeRfLink, bypass: bool) -> None:
    ctx = context(rf)
    transmit_later(ctx.targets.uplink_air, [b"noise", operator_frame(9)])
    wanted = args("inject_frames", service=8, subtype=1, spi=0x99, bypass=bypass, app_data="0005")
    result = run_action("inject_frames", wanted, ctx)
    assert result.outcome == "done", result
    wait_until(lambda: len(rf.received) >= (1 if bypass else 2))
    forged = rf.frames()[-1]
    assert forged.scid == SCID
    assert forged.kind is (FrameKind.BD if bypass else FrameKind.AD)
    if not bypass:
        assert decode_control_command(rf.frames()[0].data) == (ControlCommand.SET_VR, forged.seq)
    assert forged.data[1:3] == (0x99).to_bytes(2, "big")
    sn = int.from_bytes(forged.data[3:7], "big")
    assert PusTc.decode(forged.data[7:]) == PusTc(PLATFORM_APID, 8, 1, b"\x00\x05")
    (frame,) = result.facts["frames"]
    assert (frame["spi"], frame["sn"], frame["frame_seq"]) == (0x99, sn, forged.seq)
    assert frame["sent"] <= time.time()


def test_inject_frames_without_spi_has_no_sdls_header(rf: FakeRfLink) -> None:
    ctx = context(rf)
    ctx.link = (SCID, 2)
    result = run_action("inject_frames", args("inject_frames", service=17, subtype=1), ctx)
    wait_until(lambda: len(rf.received) >= 1)
    assert PusTc.decode(rf.frames()[0].data[1:]).service == 17
    assert result.facts["frames"][0]["spi"] is None
    assert result.facts["frames"][0]["vcid"] == 2


def test_inject_frames_fails_when_no_frame_tells_the_scid(rf: FakeRfLink) -> None:
    ctx = context(rf, listen_timeout=0.3)
    result = run_action("inject_frames", args("inject_frames", service=17, subtype=1), ctx)
    assert result.outcome == "failed"
    assert "SCID unknown" in result.detail
    assert rf.received == []


def test_flood_sends_rate_times_duration_valid_looking_frames(rf: FakeRfLink) -> None:
    ctx = context(rf)
    ctx.link = (SCID, 0)
    began = time.monotonic()
    result = run_action("flood", args("flood", rate=200, duration=1), ctx)
    took = time.monotonic() - began
    assert result.outcome == "done", result
    assert result.facts["sent"] == 200, result
    assert 0.8 <= took <= 2.5
    wait_until(lambda: len(rf.received) >= 200)
    frames = rf.frames()
    assert len(frames) == 200
    assert {f.scid for f in frames} == {SCID}
    assert {f.kind for f in frames} == {FrameKind.AD}
    assert len({f.seq for f in frames}) > 10


def test_jam_is_bounded_noise(rf: FakeRfLink) -> None:
    ctx = context(rf, jam_rate=300)
    result = run_action("jam", args("jam", duration=1), ctx)
    assert result.outcome == "done"
    assert result.facts["sent"] == 300
    wait_until(lambda: len(rf.received) >= 300)
    assert len(rf.received) == 300


# -- mission control -----------------------------------------------------------------------
class MissionControl(BaseHTTPRequestHandler):
    """/api/login (one account) and /api/commands (hazardous ones for admin only)."""

    accounts: ClassVar[dict[str, str]] = {"admin": "admin", "operator": "operator"}
    tokens: ClassVar[dict[str, str]] = {}
    logins: ClassVar[list[str]] = []
    garbage = False
    two_person = False  # hazardous commands held for a second person (HTTP 202)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.garbage:
            self._reply(500, b"\x00\xff not json")
        elif self.path == "/api/login":
            type(self).logins.append(body["password"])
            if self.accounts.get(body["username"]) == body["password"]:
                token = f"token-{body['username']}"
                self.tokens[token] = body["username"]
                self._json(200, {"token": token})
            else:
                self._json(401, {"detail": "wrong user name or password"})
        elif self.path == "/api/commands":
            user = self.tokens.get(self.headers.get("Authorization", "").removeprefix("Bearer "))
            if user == "admin" and self.two_person:
                self._json(202, {"id": None, "status": "pending", "pending_id": 1})
            elif user == "admin":
                self._json(201, {"id": 7, "status": "sent", "seq_count": 1})
            else:
                self._json(403, {"detail": f"{body['name']} needs flight-director"})
        else:
            self._json(404, {"detail": "no"})

    def _json(self, status: int, document: dict[str, Any]) -> None:
        self._reply(status, json.dumps(document).encode())

    def _reply(self, status: int, raw: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def mission_control(**attributes: Any) -> Iterator[str]:
    handler = type("Handler", (MissionControl,), {"logins": [], "tokens": {}, **attributes})
    server = ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("username", "password", "success", "status"),
    [("admin", "admin", True, 201), ("operator", "operator", False, 403)],
)
def test_hazardous_command_succeeds_only_on_http_201(
    username: str, password: str, success: bool, status: int
) -> None:
    with mission_control() as url:
        ctx = context(mission_control=url)
        wanted = args(
            "hazardous_command", command="SAFE_MODE", username=username, password=password
        )
        result = run_action("hazardous_command", wanted, ctx)
    assert (result.outcome, result.success, result.facts["http_status"]) == (
        "done",
        success,
        status,
    )


def test_a_hazardous_command_held_by_the_two_person_rule_is_no_success() -> None:
    with mission_control(two_person=True) as url:
        wanted = args("hazardous_command", command="SAFE_MODE", username="admin", password="admin")
        result = run_action("hazardous_command", wanted, context(mission_control=url))
    assert (result.success, result.facts["http_status"]) == (False, 202)
    assert "second person" in result.detail


def test_hazardous_command_with_refused_credentials_and_unreachable_mission_control() -> None:
    wanted = args("hazardous_command", command="SAFE_MODE", username="admin", password="nope")
    with mission_control() as url:
        refused = run_action("hazardous_command", wanted, context(mission_control=url))
    assert refused.success is False
    assert refused.facts["login_status"] == 401
    down = run_action("hazardous_command", wanted, context())
    assert down.outcome == "failed"
    assert "unreachable" in down.detail


def test_brute_force_mission_control_stops_at_the_first_hit() -> None:
    words = wordlist("weak-passwords")
    position = words.index("admin") + 1
    with mission_control() as url:
        ctx = context(mission_control=url)
        found = run_action(
            "brute_force",
            args("brute_force", target="mission-control", username="admin", max_attempts=500),
            ctx,
        )
        short = run_action(
            "brute_force",
            args(
                "brute_force", target="mission-control", username="admin", max_attempts=position - 1
            ),
            ctx,
        )
    assert (found.success, found.facts["attempts"], found.facts["password"]) == (
        True,
        position,
        "admin",
    )
    assert short.success is False
    assert short.facts["attempts"] == position - 1


def test_brute_force_stops_when_the_target_answers_garbage() -> None:
    with mission_control(garbage=True) as url:
        result = run_action(
            "brute_force",
            args("brute_force", target="mission-control", username="admin"),
            context(mission_control=url),
        )
    assert result.success is False
    assert result.facts["attempts"] == 1
    assert "stopped answering" in result.detail


def test_brute_force_with_an_unknown_word_list_fails_cleanly() -> None:
    # validation refuses an unknown list; an image without the list is what is left
    with pytest.raises(ValueError, match="unknown word list"):
        args("brute_force", target="ssh", username="root", wordlist="no-such-list")
    wanted = model("brute_force").model_construct(
        target="ssh", username="root", wordlist="no-such-list", max_attempts=5
    )
    result = run_action("brute_force", wanted, context())
    assert result.outcome == "failed"
    assert "no-such-list" in result.detail


class PasswordServer(paramiko.ServerInterface):
    def __init__(self, password: str) -> None:
        self.password = password

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username == "flightops" and password == self.password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "password"


@contextmanager
def ssh_server(password: str) -> Iterator[tuple[str, int]]:
    key = paramiko.RSAKey.generate(1024)
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            transport = paramiko.Transport(conn)
            transport.add_server_key(key)
            transport.start_server(server=PasswordServer(password))
            transports.append(transport)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        stop.set()
        thread.join()
        for transport in transports:
            transport.close()
        listener.close()


def test_brute_force_ssh_finds_the_password() -> None:
    words = wordlist("weak-passwords")
    with ssh_server(words[2]) as address:
        ctx = context(ssh=address)
        wanted = args("brute_force", target="ssh", username="flightops", max_attempts=5)
        result = run_action("brute_force", wanted, ctx)
    assert (result.success, result.facts["attempts"], result.facts["password"]) == (
        True,
        3,
        words[2],
    )


def test_brute_force_ssh_against_nothing_fails() -> None:
    ctx = context(ssh=(LOOPBACK, free_udp_port()))
    result = run_action("brute_force", args("brute_force", target="ssh", username="x"), ctx)
    assert result.outcome == "failed"
    assert result.facts["attempts"] == 0


# -- the log -------------------------------------------------------------------------------
def test_every_execution_appends_one_json_line(tmp_path: Path, rf: FakeRfLink) -> None:
    ctx = context(rf)
    ctx.link = (SCID, 0)
    steps = parse_timeline(
        json.dumps(
            {
                "steps": [
                    {
                        "action": "inject_frames",
                        "at": 0,
                        "repeat": 2,
                        "every": 1,
                        "args": {"service": 17, "subtype": 1, "spi": 5},
                    },
                    {
                        "action": "hazardous_command",
                        "at": 0,
                        "args": {"command": "PING", "username": "a", "password": "b"},
                    },
                ]
            }
        )
    )
    log = AdversaryLog(tmp_path / "adversary" / "log.jsonl")
    run(steps, log, ctx, silence=10.0)
    lines = log.path.read_text().splitlines()
    assert len(lines) == 3
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"t", "offset", "step", "repeat", "action", "outcome", "success", "detail"} <= set(
            entry
        )
        assert entry["t"].endswith("+00:00")
        assert entry_time(entry) is not None
    assert [(e["step"], e["repeat"]) for e in entries] == [(0, 0), (1, 0), (0, 1)]
    assert entries[1]["outcome"] == "failed"
    assert entries[1]["success"] is None
    assert set(entries[0]["frames"][0]) >= {"spi", "sn", "frame_seq", "vcid"}
    assert parse_log("\n".join(lines)) == entries
    assert sent_frames(entries[0]) == [(5, entries[0]["frames"][0]["sn"])]
    assert oct(log.path.stat().st_mode & 0o777) == "0o644"


def test_reading_a_hostile_log_keeps_only_well_formed_entries() -> None:
    good = {
        "t": "2026-01-01T00:00:00+00:00",
        "step": 0,
        "repeat": 0,
        "action": "jam",
        "outcome": "done",
        "success": None,
        "frames": [{"spi": "1", "sn": 2}, 7],
    }
    text = "\n".join(
        [
            json.dumps(good),
            "not json",
            "[1, 2]",
            json.dumps({**good, "t": "yesterday"}),
            json.dumps({**good, "outcome": "maybe"}),
            json.dumps({**good, "success": "yes"}),
            "{" + "x" * 300_000,
        ]
    )
    assert parse_log(text) == [good]
    assert sent_frames(good) == []
