"""Replay from the grader vantage: record one uplink frame off the air, transmit it again,
and judge from the spacecraft's ground truth whether it executed a second time.

The vantage runs ``python3 -m labctl.range.vantage.replay`` (capture, replay); its last
output line is JSON. The frame's (SPI, sequence number) comes from ground truth: the
executed command whose frame sequence number N(S) is the captured frame's.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from graders.checks.base import CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import (
    command_name,
    delivery_problem,
    executed,
    login,
    send_command,
    wait_for,
    wait_for_pass,
)
from labctl.protocols.tc_frame import frame_fingerprint
from labctl.range import wiring

VANTAGE: Final = wiring.vantage_program("replay")
CAPTURE_S: Final = 20.0
#: The capture must be listening before the operator's command goes out: it says so (the
#: probe passes its output on as it comes); a probe that cannot, waits this long.
LEAD_S: Final = 2.0
#: How long a replayed frame has to show up in ground truth.
SETTLE_S: Final = 5.0
#: How long the operator's command may take to execute once its frame was heard. Longer
#: is not safer: a late execution is often a retransmission under another SDLS sequence
#: number, which the judge would then count as "the replay did not execute" (a false pass
#: seen in CI with 30 s); an early error is fail-closed.
EXECUTED_WITHIN_S: Final = SETTLE_S * 3
#: Recordings before a check gives up on finding a heard frame that executed.
RECORD_ATTEMPTS: Final = 2
#: A truth read this long after mission control said the operator's command completed,
#: without the heard frame in it: that frame was another (the flight team's, already on
#: the air when the capture began), so record again now rather than after
#: EXECUTED_WITHIN_S (one grading in six or so waited those 15 s, at class size).
OTHER_FRAME_S: Final = 1.0
#: What ``executed_frame``'s search returns for "the frame heard is not the operator's".
_OTHER_FRAME: Final = ((-1, -1), -1)
#: Contact a record-and-replay needs on a link with passes: the capture, the operator's
#: verification, the replays and their settling.
REPLAY_PASS_S: Final = CAPTURE_S + EXECUTED_WITHIN_S + 30.0


def vantage_json(output: str) -> dict[str, Any] | None:
    """The JSON object on the vantage script's last output line, if any."""
    lines = [line for line in output.strip().splitlines() if line.startswith("{")]
    try:
        value = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def capture_while_commanding(probe: Probe, name: str) -> dict[str, Any]:
    """Listen on the uplink air from the vantage while an operator sends ``name``: as soon
    as the capture says it is listening, or after LEAD_S where the probe cannot tell."""
    token = login(probe, "operator")
    argv = [*VANTAGE, "capture", "--timeout", str(CAPTURE_S)]
    listening = threading.Event()

    def heard(line: str) -> None:
        if line.strip() == "listening":
            listening.set()

    with ThreadPoolExecutor(max_workers=1) as pool:
        capture = pool.submit(probe.vantage_exec, argv, CAPTURE_S + 15, heard)
        listening.wait(LEAD_S)
        sent = send_command(probe, token, name)
        code, output = capture.result()
    frame = vantage_json(output) if code == 0 else None
    if not frame:
        return {"error": output.strip()[-300:] or f"exit status {code}"}
    return {**frame, "command": sent, "token": token}


def _operator_command_done(probe: Probe, frame: dict[str, Any]) -> bool:
    """Whether mission control says the operator's command sent during the capture has
    completed. Only ever a reason to record again sooner (the frame heard first was then
    another: the flight team's, already on the air when the capture began), never a
    verdict, which ground truth alone gives."""
    ident, token = frame.get("command"), frame.get("token")
    if not isinstance(ident, int) or not isinstance(token, str):
        return False
    code, body = probe.api("GET", f"/api/commands/sent/{ident}", None, token)
    return code == 200 and isinstance(body, dict) and body.get("status") == "completed"


def executions(truth: dict[str, Any], pair: tuple[int, int]) -> int:
    """How many times the frame (SPI, sequence number) ``pair`` executed."""
    return sum((e["spi"], e["sequence_number"]) == pair for e in executed(truth))


def executed_frame(
    probe: Probe, command: str, frame: dict[str, Any]
) -> tuple[tuple[int, int], int] | None:
    """(SPI, sequence number) of the executed ``command`` that the captured ``frame`` carried,
    and how many times that frame has executed so far.

    Ground truth names each executed transmission by its fingerprint: a match is that very
    frame, never a retransmission of the same N(S) under another SDLS sequence number. A
    spacecraft that records no fingerprint is matched by N(S) alone. None after
    EXECUTED_WITHIN_S, or as soon as the frame heard is known to be another (see
    OTHER_FRAME_S)."""
    digest = frame_fingerprint(bytes.fromhex(str(frame["frame"])))

    def same(entry: dict[str, Any]) -> bool:
        if entry.get("frame_digest"):
            return bool(entry["frame_digest"] == digest)
        return bool(entry.get("frame_seq") == int(frame["seq"]))

    completed_at: float | None = None  # when mission control said the command completed

    def find() -> tuple[tuple[int, int], int] | None:
        nonlocal completed_at
        read_at = time.monotonic()
        truth = probe.truth()
        found = [e for e in executed(truth, command) if same(e)]
        if found:
            pair = (found[-1]["spi"], found[-1]["sequence_number"])
            return pair, executions(truth, pair)
        if completed_at is not None and read_at - completed_at >= OTHER_FRAME_S:
            # the spacecraft writes its truth within milliseconds of executing, before
            # the completion report goes down: the frame heard was not the operator's
            return _OTHER_FRAME
        if completed_at is None and _operator_command_done(probe, frame):
            completed_at = time.monotonic()
        return None

    found = wait_for(find, EXECUTED_WITHIN_S)
    return None if found is _OTHER_FRAME else found


def replay_outcome(probe: Probe, command: str, attempts: int, after_restart: bool) -> CheckResult:
    """Record, replay, judge. Nothing to replay (no frame heard, the operator's command not
    executed), a replay that could not be sent or never reached the spacecraft: an error,
    since nothing says whether a replay would have executed."""
    # record and replay in one pass: outside a pass nothing crosses the link
    wait_for_pass(probe, REPLAY_PASS_S * (2 if after_restart else 1))
    found, frame = None, {}
    # The transmission heard may be lost on the air and its command sent again in another
    # frame: record once more, as an operator would, before calling it unobservable.
    for _ in range(RECORD_ATTEMPTS):
        frame = capture_while_commanding(probe, command_name(command))
        if "frame" not in frame or "seq" not in frame:
            return unobserved(
                "cannot observe: no uplink frame heard on the uplink air to replay:"
                f" {frame.get('error')}"
            )
        found = executed_frame(probe, command, frame)
        if found is not None:
            break
    if found is None:
        return unobserved(
            f"cannot observe: the operator's PUS {command} did not execute from a frame heard"
            f" on the air ({RECORD_ATTEMPTS} recordings), so there is no executed frame to"
            " replay"
        )
    pair, before = found
    if after_restart:
        probe.restart("spacecraft")
        before = executions(probe.truth(), pair)
    return _judge_replay(probe, frame, (pair, before), attempts, after_restart)


def _judge_replay(
    probe: Probe,
    frame: dict[str, Any],
    seen: tuple[tuple[int, int], int],
    attempts: int,
    restarted: bool,
) -> CheckResult:
    """Transmit the frame again. ``seen``: its (SPI, sequence number) and its executions
    up to now (from the ground truth read that found it, or one read after the restart)."""
    pair, before = seen
    start = probe.truth()
    argv = [*VANTAGE, "replay", "--frame", str(frame["frame"]), "--times", str(attempts)]
    # FARM-1 back where it is now, not one past the recorded frame: the flight team's
    # script may have sent another command since, and a V(R) behind the ground station's
    # FOP-1 would make the station send that command again (the grader's replay must
    # leave the mission as it found it)
    vr = (start.get("farm") or {}).get("vr")
    if isinstance(vr, int):
        argv += ["--after", str(vr)]
    code, output = probe.vantage_exec(argv, 60.0)
    if code != 0:
        return unobserved(f"the vantage could not transmit the frame: {output.strip()[-300:]}")
    when = " after a spacecraft restart" if restarted else ""
    what = f"frame SPI {pair[0]} sequence number {pair[1]}, sent {attempts} time(s){when}"

    def again() -> bool:
        return executions(probe.truth(), pair) > before

    # A replay that executes has done so by the time the vantage is done sending (about
    # 0.3 s per datagram), so the first read usually answers; a rejected one is only
    # sure at the end of SETTLE_S: reads at 0, 0.5, 1.5, 3.5 and 5 s, not every 0.5 s.
    if wait_for(again, SETTLE_S, growth=2.0):
        return failed(f"{what}: executed again", "Look at the uplink SA's anti-replay settings.")
    lost = delivery_problem(start, probe.truth(), what)
    return lost or passed(f"{what}: not executed again")
