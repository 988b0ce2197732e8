"""A host that refuses its configuration on the real engine: `up` fails at once with the
host's own line naming what is wrong (not after the health timeout), and with
``keep_on_failure`` the instance stays for inspection until `down`."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest

from labctl.backends.docker import DockerBackend
from labctl.errors import BackendError
from labctl.instances import InstanceKept, Instances, InstanceStore
from labctl.scenario.validate import validate_lab

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = 'content: "{{ params.uplink_key }}\\n", mode: "0600", owner: labctl}'


def _bad_key_lab(tmp_path: Path) -> Path:
    """tc-replay whose spacecraft gets a key file that is not hex: nothing `labs validate`
    sees, but the spacecraft refuses to start with it."""
    lab = tmp_path / "labs" / "tc-replay"
    shutil.copytree(REPO / "labs" / "tc-replay", lab)
    text = (lab / "lab.yaml").read_text("utf-8")
    spacecraft = f"host: spacecraft\n    args: {{path: /etc/labctl/keys/uplink.key, {GOOD_KEY}"
    assert spacecraft in text
    bad = spacecraft.replace('"{{ params.uplink_key }}\\n"', '"not a hex key\\n"')
    (lab / "lab.yaml").write_text(text.replace(spacecraft, bad), "utf-8")
    return lab


@pytest.mark.parametrize("keep", [False, True], ids=["removed", "kept"])
def test_a_refused_configuration_fails_up_at_once(
    lab_backend: DockerBackend, tmp_path: Path, keep: bool
) -> None:
    loaded = validate_lab(_bad_key_lab(tmp_path))
    instances = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    student = f"refused{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    with pytest.raises(BackendError if not keep else InstanceKept) as info:
        instances.up(loaded, student, keep_on_failure=keep)
    ident = f"tc-replay-{student}"
    try:
        assert time.monotonic() - started < 120  # the health timeout is 180 s
        message = str(info.value)
        assert "start host spacecraft failed: its program refuses its configuration" in message
        assert "/etc/labctl/keys/uplink.key: cannot read a hex key" in message
        if keep:
            assert f"remove it with labctl down {ident}" in message
            assert "cannot read a hex key" in lab_backend.logs(ident, "spacecraft", tail=5)
            (view,) = instances.status(ident)
            assert view.state == "failed"
        else:
            assert lab_backend.status(ident) == []
    finally:
        if keep:
            instances.down(ident)
    assert lab_backend.status(ident) == []
