"""Checks on container images a mission publishes: no key in any layer of the archive.

The archive is read through the container engine's archive API (no program in the host
runs, so an account on the host cannot make it lie) and taken apart as hostile input by
:mod:`labctl.range.imagearchive`: every digest checked, sizes and counts bounded. The
release must still be an image ``docker load`` takes, holding the software it ships: a
release deleted, emptied or broken is not a fix, it is a failed delivery.
"""

from __future__ import annotations

import posixpath
from typing import Annotated, Any, ClassVar, Final

import yaml
from pydantic import Field, StringConstraints

from graders.checks.base import Check, CheckResult, Probe, failed, passed
from labctl.errors import CheckError
from labctl.range import imagearchive
from labctl.spec.vocabulary import Args, HostName

HexKey = Annotated[
    str,
    StringConstraints(
        pattern=r"^\s*([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64}|\{\{.*\}\})\s*$"
    ),
]
STATION_CONFIG: Final = "/etc/labctl/ground-station.yaml"
STATION: Final = "ground-station"
#: Findings shown in the evidence at most.
SHOWN: Final = 4


class ImageSecretsAbsentArgs(Args):
    host: HostName = STATION
    path: str = Field(
        pattern=r"^/[A-Za-z0-9._/+-]{1,250}$",
        description="the published image archive (`docker save` format) on the host",
    )
    keys: tuple[HexKey, ...] = Field(
        default=(), max_length=8, description="keys (hex) that must appear nowhere in it"
    )
    station_key: bool = Field(
        default=False,
        description="also the key the ground station's uplink SA uses now (read from its"
        " configuration through the engine): a rebuilt image must not bake the new key in",
    )
    require: tuple[str, ...] = Field(
        default=(),
        max_length=16,
        description="paths a container of the image must still see (the software it ships)",
    )


class ImageSecretsAbsent(Check[ImageSecretsAbsentArgs]):
    name: ClassVar[str] = "image_secrets_absent"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "A published image archive still loads and ships its software, and no key appears in"
        " any of its layers, config or history (whiteouts hide nothing), read out of band."
    )
    Args = ImageSecretsAbsentArgs

    def judge(self, args: ImageSecretsAbsentArgs, probe: Probe) -> CheckResult:
        secrets = looked_for(args, probe)
        where = f"{args.path} on {args.host}"
        data = probe.host_read(args.host, args.path)
        if data is None:
            return failed(
                f"{where} is gone: the release is no longer published",
                "Rebuild the image without the key and publish it in the same place.",
            )
        try:
            image = imagearchive.read(data)
            findings = imagearchive.secrets_in(data, secrets)
        except imagearchive.ImageError as exc:
            return failed(
                f"{where} is not an image `docker load` would take: {exc}",
                "Every layer's sha256 must be its diff_id in the config, and every blob's"
                " name its digest: recompute them after editing a layer.",
            )
        missing = [p for p in args.require if p.strip("/") not in image.files()]
        if missing:
            return failed(
                f"{where}: a container of {_name(image)} would lack {', '.join(missing)}",
                "The rebuilt image must still ship the station's software.",
            )
        shown = f"{where} ({_name(image)}, {len(image.layers)} layer(s))"
        if findings:
            more = f" (and {len(findings) - SHOWN} more)" if len(findings) > SHOWN else ""
            return failed(
                f"{shown}: {'; '.join(findings[:SHOWN])}{more}",
                "Deleting a file in a later layer leaves it in the earlier one: rebuild the"
                " image so that no layer ever held the key.",
            )
        looked = ", ".join(secrets)
        return passed(f"{shown}: {looked} in none of its layers, config or history")


def looked_for(args: ImageSecretsAbsentArgs, probe: Probe) -> dict[str, bytes]:
    """Label → key for every key the check searches for; CheckError when there is none."""
    if any("{" in key for key in args.keys):
        raise CheckError("image_secrets_absent", "the keys were not rendered")
    secrets = {f"key {k.strip()[:4]}…": bytes.fromhex(k.strip()) for k in args.keys}
    if args.station_key:
        label, key = station_key(probe)
        secrets[label] = key
    if not secrets:
        raise CheckError("image_secrets_absent", "no key to look for (give keys or station_key)")
    return secrets


def station_key(probe: Probe) -> tuple[str, bytes]:
    """(label, key) of the ground station's uplink SA as its configuration names it,
    both files read through the engine; raises CheckError when they cannot be read."""
    text = probe.host_read(STATION, STATION_CONFIG)
    try:
        config: Any = yaml.safe_load(text or b"")
        key_file = str(config["uplink"]["sa"]["key_file"])
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise CheckError(
            "station key", f"{STATION_CONFIG}: no uplink.sa.key_file ({exc})"
        ) from None
    path = key_file if key_file.startswith("/") else posixpath.join("/etc/labctl", key_file)
    material = probe.host_read(STATION, posixpath.normpath(path))
    try:
        key = bytes.fromhex((material or b"").decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) not in (16, 24, 32):
        raise CheckError("station key", f"{path} on {STATION} holds no AES key")
    return f"the station's uplink key ({posixpath.basename(path)})", key


def _name(image: imagearchive.Image) -> str:
    return image.tags[0] if image.tags else "the image"
