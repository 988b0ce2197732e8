"""The portal's security pieces on their own: cookies, CSRF, login limits, the terminal's
control messages and origin check, the proxy's paths and headers, briefing Markdown,
the self-signed certificate."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException
from hypothesis import given
from hypothesis import strategies as st

from labctl.errors import LabctlError
from labctl.instances.store import InstanceStore
from labctl.portal.app import markdown
from labctl.portal.auth import Cookies, Identity, RateLimit, csrf_ok, hash_password, verify_password
from labctl.portal.portal import Portal
from labctl.portal.proxy import PREFIX, _response_headers, safe_path
from labctl.portal.server import fingerprint, tls_files
from labctl.portal.terminal import ProtocolViolation, parse_control, same_origin


def test_a_cookie_is_signed_and_a_tampered_one_is_nobody() -> None:
    cookies = Cookies("secret-one")
    who = Identity("ana", "student", "tok", "s1", "ana")
    value = cookies.issue(who)
    assert cookies.read(value) == who
    assert cookies.read(value[:-2] + "xx") is None
    assert Cookies("secret-two").read(value) is None
    assert cookies.read("") is None
    assert cookies.read("a" * 5000) is None


def test_csrf_tokens_compare_exactly() -> None:
    who = Identity("ana", "student", "token-123")
    assert csrf_ok(who, "token-123")
    assert not csrf_ok(who, "token-12")
    assert not csrf_ok(who, None)


def test_passwords_are_argon2_hashes() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not a hash", "wrong")


def test_logins_are_limited_per_account_and_per_address() -> None:
    clock = [0.0]
    limit = RateLimit(attempts=3, window=60, clock=lambda: clock[0])
    for _ in range(3):
        assert not limit.blocked("login:ana", "addr:10.0.0.9")
        limit.failed("login:ana", "addr:10.0.0.9")
    assert limit.blocked("login:ana")
    assert limit.blocked("login:bo", "addr:10.0.0.9")  # the same address, another account
    clock[0] = 61
    assert not limit.blocked("login:ana", "addr:10.0.0.9")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"type": "resize", "cols": 80, "rows": 0}', "integer cols 1-500 and rows 1-200"),
        ('{"type": "resize", "cols": true, "rows": 5}', "integer cols"),
        ('{"type": "exec", "cmd": "id"}', "unknown control message"),
        ("not json", "not JSON"),
        ("[1, 2]", "unknown control message"),
        ("x" * 300, "too long"),
    ],
)
def test_terminal_control_messages_other_than_a_resize_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ProtocolViolation, match=reason):
        parse_control(text)
    assert parse_control('{"type": "resize", "cols": 120, "rows": 40}') == (120, 40)


@given(st.text(max_size=300))
def test_any_control_text_is_parsed_or_refused_never_crashes(text: str) -> None:
    try:
        cols, rows = parse_control(text)
    except ProtocolViolation:
        return
    assert 1 <= cols <= 500
    assert 1 <= rows <= 200


def test_the_terminal_websocket_wants_the_portals_own_origin() -> None:
    assert same_origin("https://lab.example:8443", "lab.example:8443")
    assert not same_origin("https://evil.example", "lab.example:8443")
    assert not same_origin(None, "lab.example:8443")
    assert not same_origin("null", "lab.example:8443")


@pytest.mark.parametrize(
    "path", ["../api", "a/../../x", "%2e%2e/x", "a%2Fb", "/etc/passwd", "http://x/", "a?b"]
)
def test_the_proxy_refuses_paths_that_could_leave_mission_control(path: str) -> None:
    with pytest.raises(HTTPException) as info:
        safe_path(path)
    assert info.value.status_code == 400
    assert safe_path("api/telemetry/latest") == "/api/telemetry/latest"


def test_the_proxy_keeps_redirects_and_cookies_under_its_prefix() -> None:
    upstream = httpx.Response(
        303,
        headers=[
            ("location", "/dashboard"),
            ("set-cookie", "mc_session=abc; Path=/; Domain=mission-control; HttpOnly"),
            ("set-cookie", "mc_login=; Path=/mission-control/; Max-Age=0"),
            ("connection", "close"),
            ("x-frame-options", "DENY"),
        ],
    )
    headers = _response_headers(upstream)
    assert ("location", f"{PREFIX}/dashboard") in headers
    cookies = [v for k, v in headers if k == "set-cookie"]
    assert cookies[0] == "mc_session=abc; HttpOnly; Path=/mission-control/"
    assert cookies[1] == "mc_login=; Path=/mission-control/; Max-Age=0"
    assert all(k != "connection" for k, _ in headers)
    elsewhere = _response_headers(httpx.Response(302, headers=[("location", "https://evil/")]))
    assert all(k != "location" for k, _ in elsewhere)


def test_a_briefing_cannot_carry_html() -> None:
    html = str(markdown("# Title\n\n<script>alert(1)</script> and <b>bold</b>"))
    assert "<h1>Title</h1>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_a_self_signed_certificate_is_made_once_with_its_fingerprint(tmp_path: Path) -> None:
    first = tls_files(tmp_path, None, None, ["localhost", "127.0.0.1"])
    assert first.made
    assert (tmp_path / "portal-key.pem").stat().st_mode & 0o777 == 0o600
    again = tls_files(tmp_path, None, None, ["localhost"])
    assert not again.made
    assert again.fingerprint == first.fingerprint == fingerprint(first.cert.read_bytes())
    assert len(first.fingerprint.split(":")) == 32


def test_a_students_ssh_key_is_checked_before_it_is_kept(tmp_path: Path) -> None:
    import asyncssh

    from labctl.core.api import Core
    from labctl.core.settings import Settings
    from labctl.portal.portal import MAX_KEYS, Portal, PortalError

    core = Core(Settings(labs_dir=Path("labs"), state_file=tmp_path / "labctl.db"))
    portal = Portal(core, [], grades_dir=tmp_path / "grades")
    for bad, why in [
        ("", "paste one public key line"),
        ("ssh-ed25519 AAAA-not-base64", "not an OpenSSH public key"),
        ("line one\nline two", "paste one public key line"),
    ]:
        with pytest.raises(PortalError, match=why):
            portal.add_key("ana", bad)
    keys = [asyncssh.generate_private_key("ssh-ed25519") for _ in range(MAX_KEYS + 1)]
    lines = [k.export_public_key("openssh").decode() for k in keys]
    fingerprints = [portal.add_key("ana", line + "  \n") for line in lines[:MAX_KEYS]]
    assert sorted(f for f, _, _ in portal.store.keys("ana")) == sorted(fingerprints)
    with pytest.raises(PortalError, match=f"at most {MAX_KEYS} keys"):
        portal.add_key("ana", lines[-1])
    assert portal.store.keys("bo") == []
    # an unknown student never gets a target, whatever key they show
    assert portal.ssh_target_by_key("ana", keys[0]) is None  # no such account here


def test_serve_says_in_one_line_when_its_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from typer.testing import CliRunner

    from labctl.cli.app import app

    monkeypatch.setenv("LABCTL_HOME", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", "--bind", "127.0.0.1", "--insecure-http"]
        web = CliRunner().invoke(app, [*args, "--port", str(port), "--ssh-port", "0"])
        ssh = CliRunner().invoke(app, [*args, "--port", "1", "--ssh-port", str(port)])
        unknown = CliRunner().invoke(app, ["serve", "--session", "nope"])
    assert web.exit_code == 2
    assert f"--port {port}: cannot listen on 127.0.0.1" in web.output
    assert ssh.exit_code == 2
    assert "--port 1: cannot listen" in ssh.output or f"--ssh-port {port}" in ssh.output
    assert unknown.exit_code == 2
    assert "no session 'nope'" in unknown.output
    assert "Traceback" not in web.output + ssh.output + unknown.output


class _Member:
    def __init__(self, student: str) -> None:
        self.student, self.instance = student, f"lab-{student}"


class _FakeCore:
    """Just what the portal's observation uses: the members, the lab, observe()."""

    def __init__(self, store: object, held: dict[str, list[str]]) -> None:
        self.store, self.held, self.calls = store, held, []  # type: ignore[var-annotated]
        core = self

        class Sessions:
            def members(self, session: str) -> list[_Member]:
                return [_Member("ana"), _Member("bo"), _Member("gone")]

            def lab(self, session: str) -> str:
                return "the loaded lab"

        class Instances:
            def observe(self, instance: str, loaded: object) -> list[str]:
                core.calls.append((instance, loaded))
                if instance == "lab-gone":
                    raise LabctlError("no instance lab-gone")
                return core.held[instance]

        self.sessions, self.instances = Sessions(), Instances()


def test_the_observation_records_first_holds_and_skips_what_is_gone(tmp_path: Path) -> None:
    core = _FakeCore(InstanceStore(tmp_path / "labctl.db"), {"lab-ana": ["attack"], "lab-bo": []})
    portal = Portal(core, ["s1"], grades_dir=tmp_path)  # type: ignore[arg-type]
    assert portal.observe() == 2
    assert [loaded for _, loaded in core.calls] == ["the loaded lab"] * 3  # loaded once
    first = portal.store.solved("s1", "ana", [])
    assert set(first) == {"attack"}
    assert portal.store.solved("s1", "bo", []) == {}
    assert portal.observed["s1"].startswith("objectives last observed at")
    core.held["lab-bo"] = ["attack"]
    portal.start_observing(every=3600)  # one sweep at once, then waits
    deadline = time.monotonic() + 10
    while "attack" not in portal.store.solved("s1", "bo", []):
        assert time.monotonic() < deadline, "the background sweep never ran"
        time.sleep(0.05)
    portal.stop()
    assert portal.store.solved("s1", "ana", []) == first  # the first time is kept


def test_what_a_student_types_through_the_ssh_entry_point_is_activity() -> None:
    """The gate tells the portal (the idle clock) when keys arrive, at most every
    ACTIVITY_EVERY_S, and passes every key on."""
    import asyncio

    from labctl.portal import sshgate

    class Reader:
        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks = chunks

        async def read(self, size: int) -> bytes:
            return self.chunks.pop(0) if self.chunks else b""

    class Writer:
        def __init__(self) -> None:
            self.data = b""
            self.eof = False

        def write(self, data: bytes) -> None:
            self.data += data

        def write_eof(self) -> None:
            self.eof = True

    class Process:
        stdin = Reader([b"l", b"s", b"\r"])

    class Remote:
        stdin = Writer()

    seen: list[int] = []
    asyncio.run(sshgate._feed(Process(), Remote(), lambda: seen.append(1)))  # type: ignore[arg-type]
    assert Remote.stdin.data == b"ls\r"
    assert Remote.stdin.eof
    assert seen == [1]  # three keys in a moment: told once
