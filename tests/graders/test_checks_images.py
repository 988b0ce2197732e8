"""image_secrets_absent against a fake probe whose files are what the engine would read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from graders.checks.base import Status
from graders.checks.images import ImageSecretsAbsent, ImageSecretsAbsentArgs
from labctl.errors import BackendError
from labctl.range.imagearchive import Layer, build

OLD = "00112233445566778899aabbccddeeff"
NEW = "ffeeddccbbaa99887766554433221100"
RELEASE = "/srv/releases/gs.tar"
APP = Layer("ADD app", {"opt/gs/VERSION": "2.3.1\n", "etc/labctl/ground-station.yaml": "x: 1\n"})
LEAKY = [
    APP,
    Layer("COPY keys/", {"etc/labctl/keys/uplink.key": OLD + "\n"}),
    Layer("RUN rm", delete=["etc/labctl/keys/uplink.key"]),
]


@dataclass
class Files:
    """The engine's view of the hosts' files: (host, path) -> bytes."""

    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    since: float | None = None

    def host_read(self, host: str, path: str) -> bytes | None:
        if host == "nowhere":
            raise BackendError(f"read {path}", "no such container")
        return self.files.get((host, path))

    def truth(self) -> dict[str, Any]:
        return {}


def station(release: bytes | None, key: str = NEW, key_file: str = "keys/rotated.key") -> Files:
    files = {
        ("ground-station", "/etc/labctl/ground-station.yaml"): (
            f"uplink:\n  sa:\n    spi: 130\n    key_file: {key_file}\n".encode()
        ),
        ("ground-station", "/etc/labctl/keys/rotated.key"): f"{key}\n".encode(),
    }
    if release is not None:
        files[("ground-station", RELEASE)] = release
    return Files(files)


def judge(probe: Files, **args: Any) -> Any:
    settings = {"path": RELEASE, "keys": [OLD], "station_key": True}
    settings.update(args)
    return ImageSecretsAbsent().run(ImageSecretsAbsentArgs(**settings), probe)  # type: ignore[arg-type]


def test_the_injected_release_fails_on_the_key_under_the_whiteout() -> None:
    result = judge(station(build("gs:2.3.1", LEAKY)), require=["opt/gs/VERSION"])
    assert result.status is Status.FAIL
    assert "key 0011… (hex)" in result.evidence
    assert "etc/labctl/keys/uplink.key" in result.evidence
    assert "rebuild" in result.hint


def test_a_release_rebuilt_without_the_key_passes() -> None:
    result = judge(station(build("gs:2.3.1", [APP])), require=["opt/gs/VERSION"])
    assert result.status is Status.PASS, result.evidence
    assert "gs:2.3.1, 1 layer(s)" in result.evidence
    assert "the station's uplink key (rotated.key)" in result.evidence


def test_a_rebuild_that_bakes_the_new_key_in_fails() -> None:
    baked = build("gs:2.3.1", [APP, Layer("COPY keys/", {"etc/k": NEW.upper()})])
    result = judge(station(baked))
    assert result.status is Status.FAIL
    assert "the station's uplink key (rotated.key) (HEX)" in result.evidence


def test_another_whiteout_layer_is_no_fix() -> None:
    again = build(
        "gs:2.3.1", [*LEAKY, Layer("RUN rm -rf /etc/labctl/keys", delete=["etc/labctl/keys"])]
    )
    assert judge(station(again)).status is Status.FAIL


def test_a_deleted_release_is_a_failed_delivery_not_a_fix() -> None:
    result = judge(station(None))
    assert result.status is Status.FAIL
    assert "no longer published" in result.evidence


def test_a_release_that_no_longer_loads_fails() -> None:
    broken = bytearray(build("gs:2.3.1", [APP]))
    broken[broken.index(b"2.3.1\n")] = ord("9")
    result = judge(station(bytes(broken)))
    assert result.status is Status.FAIL
    assert "docker load" in result.evidence
    assert "digest" in result.evidence


def test_a_release_without_the_software_fails() -> None:
    empty = build("gs:2.3.1", [Layer("ADD nothing", {"README": "x"})])
    result = judge(station(empty), require=["opt/gs/VERSION", "/etc/labctl/ground-station.yaml"])
    assert result.status is Status.FAIL
    assert "would lack opt/gs/VERSION, /etc/labctl/ground-station.yaml" in result.evidence


@pytest.mark.parametrize(
    ("probe", "problem"),
    [
        (station(b"", key="not hex"), "holds no AES key"),
        (station(b"", key_file="keys/missing.key"), "holds no AES key"),
        (
            Files({("ground-station", "/etc/labctl/ground-station.yaml"): b"uplink: 1\n"}),
            "no uplink.sa.key_file",
        ),
    ],
)
def test_an_unreadable_station_key_is_no_verdict(probe: Files, problem: str) -> None:
    result = judge(probe)
    assert result.status is Status.ERROR
    assert problem in result.evidence


def test_nothing_to_look_for_or_an_unreadable_host_is_no_verdict() -> None:
    assert judge(station(b""), keys=[], station_key=False).status is Status.ERROR
    assert judge(station(b""), keys=["{{ params.k }}"], station_key=False).status is Status.ERROR
    result = judge(Files(), host="nowhere", station_key=False)
    assert result.status is Status.ERROR
    assert "no such container" in result.evidence


def test_the_check_is_passive() -> None:
    assert ImageSecretsAbsent.passive
