"""Reference remediation for image-keys, run on the workstation as the student, through the
student's own access only: telecommands from mission control (flight director) and the
ground station's operations-engineer account.

1. Spacecraft, through the operational (compromised) SA: ``KEY_OTAR`` a fresh AES-128 key
   sealed under the master key (``~/key-management.txt``), ``KEY_ACTIVATE`` it,
   ``KEY_VERIFY`` it.
2. The spare SA (unkeyed): ``SA_REKEY`` it with the new key, ``SA_START`` it.
3. Station (``ssh ops@ground-station``): the new key into its key store (0600), the uplink
   SA pointed at the spare SPI and that key, ``sudo labctl-service restart``; its COP-1
   recovery brings FARM-1 back in step.
4. Spacecraft, now through the new key: ``SA_STOP`` and ``SA_EXPIRE`` the compromised SA.
5. The release: download ``/srv/releases/ground-station-2.3.1.tar`` by SFTP, rebuild it
   with every key file and its whiteout left out of every layer (new layer digests, config
   and manifests, by ``labctl.range.imagearchive.build``), upload it next to the old one
   and rename it over.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import sys
import tarfile
from pathlib import Path
from typing import IO

import yaml

from labctl.range.imagearchive import ImageError, Layer, build
from labctl.range.missionclient import MissionControl, MissionControlError, handout_fields
from labctl.range.opsclient import OpsError, OpsSession

CONFIG = "/etc/labctl/ground-station.yaml"
RELEASE = "/srv/releases/ground-station-2.3.1.tar"
KEYS_DIR = "etc/labctl/keys/"
NEW_KEY_FILE = "/etc/labctl/keys/rotated.key"
NEW_KEY_ID = 7


def without_keys(archive: bytes) -> bytes:
    """The image rebuilt from its own layers, every file under etc/labctl/keys/ (and its
    whiteout) left out of every layer: no layer of the result ever held a key."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as image:
        manifest = json.load(_member(image, "manifest.json"))[0]
        config = json.load(_member(image, manifest["Config"]))
        layers = []
        for step, name in zip(config["history"], manifest["Layers"], strict=True):
            files: dict[str, bytes] = {}
            deleted: list[str] = []
            with tarfile.open(fileobj=_member(image, name)) as layer:
                for member in layer:
                    path = member.name.removeprefix("./")
                    extracted = layer.extractfile(member) if member.isfile() else None
                    if path.startswith(KEYS_DIR) or extracted is None:
                        continue
                    base = posixpath.basename(path)
                    if base.startswith(".wh."):
                        deleted.append(posixpath.join(posixpath.dirname(path), base[4:]))
                    else:
                        files[path] = extracted.read()
            dropped = " (key files left out)" if step["created_by"].count("keys") else ""
            print(f"layer {step['created_by'][:60]}: {len(files)} file(s){dropped}")
            layers.append(Layer(step["created_by"], files, deleted))
    settings = config.get("config") or {}
    tag = manifest["RepoTags"][0]
    return build(tag, layers, env=settings.get("Env") or (), cmd=settings.get("Cmd") or ())


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = archive.extractfile(name)
    if handle is None:
        raise KeyError(f"{name} is not a file of the archive")
    return handle


def republish(ops: OpsSession) -> None:
    """Download the release, rebuild it without keys, upload it and rename it over."""
    original = ops.download(RELEASE)
    rebuilt = without_keys(original)
    ops.publish(RELEASE, rebuilt)
    print(f"{RELEASE}: rebuilt without keys ({len(original)} -> {len(rebuilt)} octets)")


def main() -> int:
    try:
        fields = handout_fields(Path.home() / "key-management.txt")
        master_id, master = int(fields["master_key_id"]), bytes.fromhex(fields["master_key"])
        mc = MissionControl.from_file()
        mc.wait_linked()
        with OpsSession.from_file("ground-station") as ops:
            station = yaml.safe_load(ops.read(CONFIG))
            old_spi = int(station["uplink"]["sa"]["spi"])
            spare_spi = int(fields["spare_spi"])
            print(f"station uplink SA {old_spi}; spare SA {spare_spi}")

            key = os.urandom(16)
            print(mc.deliver_key(master, master_id, NEW_KEY_ID, key))
            print(mc.completed("SA_REKEY", spi=spare_spi, key_id=NEW_KEY_ID))
            print(mc.completed("SA_START", spi=spare_spi))

            print(ops.write(NEW_KEY_FILE, key.hex() + "\n").strip() or f"{NEW_KEY_FILE} written")
            print(
                ops.edit(CONFIG, {"uplink.sa.spi": spare_spi, "uplink.sa.key_file": NEW_KEY_FILE})
            )
            print(ops.sudo("labctl-service", "restart").strip())
            mc.wait_linked()
            print(mc.completed("SA_STOP", spi=old_spi))
            print(mc.completed("SA_EXPIRE", spi=old_spi))
            republish(ops)
    except (OpsError, MissionControlError, KeyError, ValueError, OSError, ImageError) as exc:
        print(f"remediation failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
