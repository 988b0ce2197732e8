"""COP-1: FARM-1 state table (232.1-B-2 §6) and the FOP-1 ground station side."""

import pytest

from labctl.protocols.cop1 import Farm1, FarmEvent, FarmState, Fop1, FopState
from labctl.protocols.tc_frame import Bypass, FrameKind, TcFrame, set_vr_frame, unlock_frame


def ad(seq: int, data: bytes = b"cmd") -> TcFrame:
    return TcFrame(0x42, 1, data, seq, Bypass.TYPE_A)


def test_in_sequence_frames_accepted_and_vr_advances() -> None:
    farm = Farm1(vcid=1)
    for seq in range(300):
        result = farm.receive(ad(seq % 256))
        assert result.accepted
        assert result.event is FarmEvent.AD_ACCEPTED
    assert farm.vr == 300 % 256
    assert farm.clcw().report == farm.vr


def test_duplicate_in_negative_window_discarded_silently() -> None:
    farm = Farm1(vcid=1, vr=10)
    result = farm.receive(ad(8))
    assert (result.accepted, result.event) == (False, FarmEvent.AD_NEGATIVE_WINDOW)
    assert farm.state is FarmState.OPEN
    assert not farm.retransmit


def test_gap_in_positive_window_requests_retransmission() -> None:
    farm = Farm1(vcid=1, window=10)
    result = farm.receive(ad(3))
    assert (result.accepted, result.event) == (False, FarmEvent.AD_POSITIVE_WINDOW)
    assert farm.clcw().retransmit == 1
    assert farm.receive(ad(0)).accepted
    assert farm.clcw().retransmit == 0


def test_outside_window_locks_out_until_unlock() -> None:
    farm = Farm1(vcid=1, window=10)
    result = farm.receive(ad(100))
    assert result.event is FarmEvent.AD_LOCKOUT_AREA
    assert farm.state is FarmState.LOCKOUT
    assert farm.clcw().lockout == 1
    assert not farm.receive(ad(0)).accepted  # everything discarded while locked out
    set_vr = farm.receive(set_vr_frame(0x42, 1, 50))
    assert set_vr.accepted
    assert farm.lockout
    assert farm.vr == 0
    unlock = farm.receive(unlock_frame(0x42, 1))
    assert unlock.accepted
    assert unlock.event is FarmEvent.UNLOCK
    assert farm.state is FarmState.OPEN
    assert farm.clcw().lockout == 0
    assert farm.receive(ad(0)).accepted
    assert farm.farm_b_counter == 2
    assert farm.clcw().farm_b_counter == 2


def test_set_vr_when_open() -> None:
    farm = Farm1(vcid=1)
    assert farm.receive(set_vr_frame(0x42, 1, 77)).event is FarmEvent.SET_VR
    assert farm.vr == 77
    assert farm.receive(ad(77)).accepted


def test_bd_frames_bypass_sequence_control_even_in_lockout() -> None:
    farm = Farm1(vcid=1)
    farm.receive(ad(128))
    result = farm.receive(TcFrame(0x42, 1, b"bd", 99, Bypass.TYPE_B))
    assert result.accepted
    assert result.event is FarmEvent.BD
    assert result.data == b"bd"
    assert farm.lockout


def test_wait_when_buffer_full_then_release() -> None:
    farm = Farm1(vcid=1, capacity=1)
    assert farm.receive(ad(0)).accepted
    result = farm.receive(ad(1))
    assert result.event is FarmEvent.AD_NO_BUFFER
    assert farm.wait
    assert farm.clcw().wait == 1
    assert farm.clcw().retransmit == 1
    farm.release()
    assert farm.state is FarmState.OPEN
    assert farm.receive(ad(1)).accepted


def test_illegal_and_unknown_control_frames() -> None:
    farm = Farm1(vcid=1)
    assert farm.receive(TcFrame(0x42, 1, b"x", 0, 0, 1)).event is FarmEvent.INVALID
    assert farm.receive(TcFrame(0x42, 1, b"\x99", 0, 1, 1)).event is FarmEvent.INVALID
    with pytest.raises(ValueError, match="window"):
        Farm1(vcid=1, window=3)


# -- FOP-1 -----------------------------------------------------------------------------


def link(
    fop: Fop1, farm: Farm1, frames: list[TcFrame], drop: set[int] = frozenset()
) -> list[bytes]:
    """Deliver frames (except the dropped indexes) and return what FARM accepted."""
    accepted = []
    for index, frame in enumerate(frames):
        if index not in drop:
            result = farm.receive(frame)
            if result.accepted:
                accepted.append(result.data)
    return accepted


def test_fop_sends_and_clcw_acknowledges() -> None:
    fop, farm = Fop1(0x42, 1), Farm1(1)
    frames = [f for n in range(3) for f in fop.send_ad(b"c%d" % n, now=0.0)]
    assert [f.seq for f in frames] == [0, 1, 2]
    assert link(fop, farm, frames) == [b"c0", b"c1", b"c2"]
    fop.on_clcw(farm.clcw(), now=0.1)
    assert not fop.sent
    assert fop.vs == 3


def test_fop_retransmits_on_clcw_retransmit_flag() -> None:
    fop, farm = Fop1(0x42, 1), Farm1(1)
    frames = [f for n in range(3) for f in fop.send_ad(b"c%d" % n, now=0.0)]
    assert link(fop, farm, frames, drop={1}) == [b"c0"]
    resent = fop.on_clcw(farm.clcw(), now=0.1)  # N(R)=1, retransmit flag set
    assert [f.seq for f in resent] == [1, 2]
    assert link(fop, farm, resent) == [b"c1", b"c2"]
    fop.on_clcw(farm.clcw(), now=0.2)
    assert not fop.sent
    assert fop.state is FopState.ACTIVE


def test_fop_retransmits_on_timeout_then_alerts_at_limit() -> None:
    fop = Fop1(0x42, 1, timeout=1.0, transmission_limit=2)
    fop.send_ad(b"lost", now=0.0)
    assert fop.on_timer(0.5) == []
    assert [f.data for f in fop.on_timer(1.0)] == [b"lost"]
    assert fop.on_timer(2.5) == []
    assert fop.state is FopState.ALERTED
    assert "limit" in fop.alert


def test_fop_window_limits_outstanding_frames() -> None:
    fop, farm = Fop1(0x42, 1, window=2), Farm1(1)
    sent = [f for n in range(5) for f in fop.send_ad(b"%d" % n, now=0.0)]
    assert len(sent) == 2
    assert len(fop.waiting) == 3
    link(fop, farm, sent)
    more = fop.on_clcw(farm.clcw(), now=0.1)
    assert [f.seq for f in more] == [2, 3]


def test_fop_lockout_then_unlock_recovers() -> None:
    fop, farm = Fop1(0x42, 1), Farm1(1)
    farm.receive(ad(200))  # a rogue frame locks FARM-1 out
    fop.send_ad(b"a", now=0.0)
    assert fop.on_clcw(farm.clcw(), now=0.1) == []
    assert fop.state is FopState.ALERTED
    assert farm.receive(fop.unlock()).accepted
    resent = fop.on_clcw(farm.clcw(), now=0.2)
    assert fop.state in (FopState.ACTIVE, FopState.RETRANSMIT)
    assert link(fop, farm, resent or fop.on_timer(10.0)) == [b"a"]


def test_fop_set_vr_resynchronises() -> None:
    fop, farm = Fop1(0x42, 1), Farm1(1, vr=40)
    assert farm.receive(fop.set_vr(10)).accepted
    (frame,) = fop.send_ad(b"x", now=0.0)
    assert frame.seq == 10
    assert farm.receive(frame).accepted


def test_fop_ignores_other_vc_and_bd() -> None:
    fop = Fop1(0x42, 1)
    fop.send_ad(b"x", now=0.0)
    assert fop.on_clcw(Farm1(2).clcw(), now=0.1) == []
    assert len(fop.sent) == 1
    assert fop.send_bd(b"bd").bypass == Bypass.TYPE_B


def _run(fop: Fop1, farm: Farm1, frames: list[TcFrame], now: float) -> list[bytes]:
    """Deliver frames, then the CLCWs, until FOP-1 stops sending; what FARM-1 accepted."""
    accepted: list[bytes] = []
    for _ in range(20):
        for frame in frames:  # in order: control frames before the AD frames after them
            result = farm.receive(frame)
            if frame.kind is FrameKind.BC:
                assert result.accepted
            elif result.accepted:
                accepted.append(result.data)
                farm.release()
        frames = fop.on_clcw(farm.clcw(), now)
        if not frames:
            break
    return accepted


@pytest.mark.parametrize("commands_before", [0, 3, 6, 40])
def test_fop_recovers_when_the_spacecraft_restarts(commands_before: int) -> None:
    """A restarted spacecraft's FARM-1 is back at V(R) = 0; FOP-1 notices (lockout, or a
    row of CLCWs whose N(R) acknowledges nothing) and re-initiation gets the next command
    through without losing it."""
    fop, farm = Fop1(0x42, 1), Farm1(1)
    for n in range(commands_before):
        _run(fop, farm, fop.send_ad(b"old%d" % n, now=0.0), now=0.0)
    assert not fop.sent
    assert fop.vs == commands_before % 256
    farm = Farm1(1)  # the restart
    frames = fop.send_ad(b"new", now=1.0)
    accepted = _run(fop, farm, frames, now=1.0)
    for _ in range(3):  # housekeeping keeps bringing CLCWs
        fop.on_clcw(farm.clcw(), now=1.5)
    if commands_before == 0:
        assert accepted == [b"new"]
        assert fop.state is FopState.ACTIVE
        return
    assert accepted == []
    assert fop.state is FopState.ALERTED
    assert fop.alert == ("FARM-1 lockout" if commands_before >= 5 else "N(R) out of step")
    assert fop.alert_since is not None
    frames = fop.reinitiate(now=4.0)
    kinds = [f.kind for f in frames]
    assert kinds[-1] is FrameKind.AD
    assert kinds.count(FrameKind.BC) == (2 if commands_before >= 5 else 1)
    assert _run(fop, farm, frames, now=4.0) == [b"new"]
    assert fop.state is FopState.ACTIVE
    assert not fop.sent
    assert fop.alert_since is None
    assert farm.vr == fop.vs


def test_fop_out_of_step_with_nothing_outstanding() -> None:
    """The restart is noticed from housekeeping alone: no command has to be lost first."""
    fop, farm = Fop1(0x42, 1), Farm1(1)
    for n in range(7):
        _run(fop, farm, fop.send_ad(b"%d" % n, now=0.0), now=0.0)
    farm = Farm1(1)
    for _ in range(2):
        assert fop.on_clcw(farm.clcw(), now=1.0) == []
        assert fop.state is FopState.ACTIVE  # one or two stray reports may be stale
    fop.on_clcw(farm.clcw(), now=1.0)
    assert fop.alert == "N(R) out of step"
    (set_vr,) = fop.reinitiate(now=2.0)
    assert farm.receive(set_vr).accepted
    assert farm.vr == 7
    assert _run(fop, farm, fop.send_ad(b"after", now=2.0), now=2.0) == [b"after"]


def test_fop_reinitiate_after_transmission_limit_only_resends() -> None:
    """FARM-1 in step (the frames were lost on the air): no directive, the frames again."""
    fop, farm = Fop1(0x42, 1, timeout=1.0, transmission_limit=1), Farm1(1)
    fop.on_clcw(farm.clcw(), now=0.0)
    fop.send_ad(b"lost", now=0.0)
    fop.on_clcw(farm.clcw(), now=0.5)  # CLCWs keep coming: FARM-1 is known to be in step
    fop.on_timer(1.0)
    assert fop.alert == "transmission limit reached"
    frames = fop.reinitiate(now=2.0)
    assert [f.kind for f in frames] == [FrameKind.AD]
    assert _run(fop, farm, frames, now=2.0) == [b"lost"]


def test_fop_reinitiates_blind_when_no_clcw_arrives() -> None:
    """A restarted station whose downlink is dark (no CLCW at all) cannot know FARM-1's
    V(R): after the transmission limit, re-initiation sets it, blind, and gets through."""
    fop, farm = Fop1(0x42, 1, timeout=1.0, transmission_limit=2), Farm1(1, vr=3)
    (frame,) = fop.send_ad(b"first", now=0.0)  # N(S) 0: FARM-1 expects 3, discards it
    assert not farm.receive(frame).accepted
    fop.on_timer(1.0)
    fop.on_timer(2.0)
    assert fop.alert == "transmission limit reached"
    frames = fop.reinitiate(now=3.0)
    assert [f.kind for f in frames] == [FrameKind.BC, FrameKind.AD]
    assert farm.receive(frames[0]).accepted
    assert farm.receive(frames[1]).data == b"first"
