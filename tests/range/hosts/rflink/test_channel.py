"""The channel model: loss, jamming, contact windows on a fake clock, bit errors."""

from __future__ import annotations

import random

import pytest

from labctl.range.hosts.rflink.channel import (
    DOWNLINK,
    UPLINK,
    ChannelModel,
    ChannelSettings,
    flip_bits,
)

FRAME = bytes(range(64))


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_clean_channel_passes_frames_unchanged() -> None:
    channel = ChannelModel(ChannelSettings(), random.Random(1))
    assert all(channel.transmit(UPLINK, FRAME) == FRAME for _ in range(100))
    assert not channel.dropped


def test_loss_one_drops_everything() -> None:
    channel = ChannelModel(ChannelSettings(loss=1.0), random.Random(1))
    assert all(channel.transmit(DOWNLINK, FRAME) is None for _ in range(100))
    assert channel.dropped == {"downlink_lost": 100}


def test_partial_loss_is_reproducible_with_a_seed() -> None:
    def survivors(seed: int) -> list[bool]:
        channel = ChannelModel(ChannelSettings(loss=0.3), random.Random(seed))
        return [channel.transmit(UPLINK, FRAME) is not None for _ in range(1000)]

    assert survivors(5) == survivors(5)
    assert 600 < sum(survivors(5)) < 800


def test_jamming_is_per_direction() -> None:
    channel = ChannelModel(ChannelSettings(jam_uplink=True), random.Random(1))
    assert channel.transmit(UPLINK, FRAME) is None
    assert channel.transmit(DOWNLINK, FRAME) == FRAME
    assert channel.dropped == {"uplink_jammed": 1}


def test_contact_windows_follow_the_clock() -> None:
    clock = FakeClock(1000.0)
    settings = ChannelSettings(pass_period=100, pass_duration=20, pass_offset=10)
    channel = ChannelModel(settings, random.Random(1), clock)
    assert channel.transmit(UPLINK, FRAME) is None  # phase 90: no pass
    assert channel.next_pass() == 1010.0
    clock.now = 1015.0
    assert channel.in_contact()
    assert channel.transmit(UPLINK, FRAME) == FRAME
    clock.now = 1030.0
    assert channel.transmit(DOWNLINK, FRAME) is None
    assert channel.dropped == {"uplink_no_pass": 1, "downlink_no_pass": 1}


def test_always_in_contact_without_a_period() -> None:
    channel = ChannelModel(ChannelSettings(), clock=FakeClock(12345.0))
    assert channel.in_contact()
    assert channel.next_pass() is None


@pytest.mark.parametrize("ber", [0.001, 0.01, 0.05])
def test_bit_error_rate_flips_about_the_expected_number_of_bits(ber: float) -> None:
    rng = random.Random(3)
    data = bytes(1000)
    flips = sum(flip_bits(data, ber, rng)[1] for _ in range(20))
    expected = ber * 8000 * 20
    assert 0.8 * expected < flips < 1.2 * expected


def test_flipped_bits_are_the_counted_ones() -> None:
    corrupted, flips = flip_bits(bytes(500), 0.01, random.Random(9))
    assert sum(bin(b).count("1") for b in corrupted) == flips > 0
    assert flip_bits(FRAME, 0.0, random.Random(1)) == (FRAME, 0)
    assert flip_bits(b"\x0f", 1.0, random.Random(1)) == (b"\xf0", 8)


def test_bit_errors_are_counted_by_the_channel() -> None:
    channel = ChannelModel(ChannelSettings(bit_error_rate=0.01), random.Random(2))
    received = channel.transmit(UPLINK, bytes(1000))
    assert received is not None
    assert received != bytes(1000)
    assert channel.frames_corrupted == 1
    assert channel.bits_flipped > 0


# -- jamming by noise on the air ------------------------------------------------------------
def _tc_frame() -> bytes:
    from labctl.protocols.tc_frame import TcFrame

    return TcFrame(300, 0, b"\x00\x01\x02", 7).encode()


def test_noise_above_the_threshold_jams_the_uplink_for_that_second_and_the_next() -> None:
    clock = FakeClock(100.2)
    channel = ChannelModel(ChannelSettings(noise_threshold=5), random.Random(1), clock)
    frame = _tc_frame()
    noise = [bytes([i]) * 40 for i in range(6)]
    assert channel.transmit(UPLINK, frame) == frame
    for burst in noise[:5]:
        assert channel.transmit(UPLINK, burst) == burst  # at the threshold: still clear
    assert not channel.jammed(UPLINK)
    assert channel.transmit(UPLINK, noise[5]) is None  # the sixth noise datagram jams
    assert channel.jammed(UPLINK)
    assert channel.transmit(UPLINK, frame) is None
    assert not channel.jammed(DOWNLINK)
    assert channel.transmit(DOWNLINK, b"\x01" * 40) is not None
    clock.now = 101.9  # the next second: still jammed by the last one's noise
    assert channel.transmit(UPLINK, frame) is None
    clock.now = 102.0  # two quiet seconds later the channel is clear again
    assert channel.transmit(UPLINK, frame) == frame
    assert channel.noise == {UPLINK: 6}
    assert channel.dropped == {"uplink_jammed": 3}
    # of the three, two were a station's frames (the noise itself is not counted there)
    assert channel.frames_jammed == {UPLINK: 2}
    assert channel.last_frame_jammed == {UPLINK: 101.9}


def test_a_flood_of_well_formed_frames_is_not_noise_and_zero_turns_noise_jamming_off() -> None:
    clock = FakeClock(10.0)
    frame = _tc_frame()
    channel = ChannelModel(ChannelSettings(noise_threshold=5), random.Random(1), clock)
    assert all(channel.transmit(UPLINK, frame) == frame for _ in range(100))
    assert not channel.noise
    quiet = ChannelModel(ChannelSettings(noise_threshold=0), random.Random(1), clock)
    assert all(quiet.transmit(UPLINK, b"\xff" * 30) is not None for _ in range(100))
    assert not quiet.jammed(UPLINK)
    assert not quiet.noise


def test_short_datagrams_and_bad_fecf_are_noise() -> None:
    from labctl.range.hosts.rflink.channel import is_noise

    frame = _tc_frame()
    assert not is_noise(frame)
    assert is_noise(frame[:-1])
    assert is_noise(frame[:-1] + bytes([frame[-1] ^ 1]))
    assert is_noise(b"")
    assert is_noise(b"\x00" * 7)
