"""Checks on a host where the student has root (gs-ssh-keys' ground station), on the real
engine: root there replaces ``stat`` and ``sshd -T`` with scripts that lie, hides the key
copy behind a symbolic link into a tmpfs, and firewalls sshd from the grader vantage. The
checks see through each (file_private reads the engine's own view of the file system,
ssh_password_refused believes only what a vantage observes, from the ground network when
the RF segment is cut off) and never pass on a lie."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from live import REPO

from graders.checks.base import CheckResult, Status
from graders.checks.hosts import (
    FilePrivate,
    FilePrivateArgs,
    SshPasswordRefused,
    SshPasswordRefusedArgs,
)
from graders.live.probe import LiveProbe
from graders.live.vantage import vantage
from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord, Instances, InstanceStore
from labctl.instances.lifecycle import variables_of
from labctl.spec import load_lab

pytestmark = pytest.mark.docker
LAB = load_lab(REPO / "labs" / "gs-ssh-keys")
STATION: Final = "ground-station"
KEY_COPY: Final = "/etc/labctl/uplink.key"
LYING_STAT: Final = "#!/bin/sh\necho '600 labctl labctl'\n"
LYING_SSHD: Final = """#!/bin/sh
if [ "$1" = -T ]; then
    printf 'port 22\\npasswordauthentication no\\nkbdinteractiveauthentication no\\n'
    exit 0
fi
exec /usr/sbin/sshd.real "$@"
"""


@pytest.fixture
def station(lab_backend: DockerBackend, tmp_path: Path) -> Iterator[InstanceRecord]:
    manager = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    record = manager.up(LAB, f"untrusted{uuid.uuid4().hex[:8]}")
    try:
        yield record
    finally:
        manager.down(record.id)


def as_root(backend: DockerBackend, record: InstanceRecord, script: str) -> str:
    result = backend.exec(record.id, STATION, ["sh", "-c", script], user="root")
    assert result.exit_code == 0, result.output
    return result.output


def install(backend: DockerBackend, record: InstanceRecord, path: str, text: str) -> None:
    """``path`` replaced by a script, as root on the station would (renamed over it: a
    running program's file cannot be written)."""
    script = (
        f"cat > {path}.new <<'EOF'\n{text}EOF\nchmod 0755 {path}.new && mv -f {path}.new {path}"
    )
    as_root(backend, record, script)


def private(probe: LiveProbe, missing_ok: bool = False) -> CheckResult:
    return FilePrivate().run(FilePrivateArgs(path=KEY_COPY, missing_ok=missing_ok), probe)


def test_root_on_the_station_cannot_talk_the_checks_into_a_pass(
    lab_backend: DockerBackend, station: InstanceRecord
) -> None:
    password = str(variables_of(LAB, station)["params"]["operator_password"])
    ssh_args = SshPasswordRefusedArgs(username="flightops", password=password)
    with vantage(lab_backend, station.id, uuid.uuid4().hex[:12]) as host:
        probe = LiveProbe(lab_backend, station.id, "http://127.0.0.1:9", host)
        with probe:
            # stat replaced: the host now says 0600, the engine still reads 0644.
            install(lab_backend, station, "/usr/bin/stat", LYING_STAT)
            assert as_root(lab_backend, station, f"stat -L -c '%a %U %G' {KEY_COPY}").startswith(
                "600"
            )
            result = private(probe)
            assert result.status is Status.FAIL, result
            assert "mode 0644, owner uid 10001" in result.evidence

            # sshd -T replaced: it says keys only while sshd still takes passwords.
            as_root(lab_backend, station, "cp -p /usr/sbin/sshd /usr/sbin/sshd.real")
            install(lab_backend, station, "/usr/sbin/sshd", LYING_SSHD)
            said = as_root(lab_backend, station, "/usr/sbin/sshd -T")
            assert "passwordauthentication no" in said
            result = SshPasswordRefused().run(ssh_args, probe)
            assert result.status is Status.FAIL, result
            assert "logged in with the password" in result.evidence

            # sshd firewalled off the RF segment: observed from the ground network, where
            # it still takes passwords (the old check believed the lying sshd -T here).
            rf_address = probe.host_networks(STATION)["rf"]
            interface = as_root(
                lab_backend,
                station,
                f"ip -o -4 addr show | awk '$4 ~ /^{rf_address}\\// {{print $2}}'",
            ).strip()
            assert interface, rf_address
            reject = "-p tcp --dport 22 -j REJECT"
            as_root(lab_backend, station, f"iptables -I INPUT -i {interface} {reject}")
            result = SshPasswordRefused().run(ssh_args, probe)
            assert result.status is Status.FAIL, result
            assert "from the ground network" in result.evidence
            assert "logged in with the password" in result.evidence

            # Keys only for real (sshd reloaded): the ground network's vantage sees it.
            keys_only = "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            conf = "/etc/ssh/sshd_config.d/00-keys-only.conf"
            as_root(lab_backend, station, f"printf '{keys_only}' > {conf}")
            as_root(lab_backend, station, "kill -HUP $(cat /run/sshd.pid) && sleep 1")
            result = SshPasswordRefused().run(ssh_args, probe)
            assert result.status is Status.PASS, result
            assert "from the ground network offers only publickey" in result.evidence

            # Firewalled everywhere: nothing observed is an error, whatever sshd -T says.
            as_root(lab_backend, station, f"iptables -I INPUT {reject}")
            result = SshPasswordRefused().run(ssh_args, probe)
            assert result.status is Status.ERROR, result
            assert "cannot observe" in result.evidence

            # The key copy moved into a tmpfs behind a link: still readable by everyone on
            # the station, missing to the engine's archive API. Not a pass.
            as_root(lab_backend, station, "mv /etc/labctl /tmp/ && ln -s /tmp/labctl /etc/labctl")
            assert as_root(lab_backend, station, f"cat {KEY_COPY}").strip()
            result = private(probe, missing_ok=True)
            assert result.status is Status.ERROR, result
            assert "/etc/labctl is not a directory" in result.evidence
