"""Hostile streams before SSH authentication: the gateway's relay (labctl's own code, in
front of the attacker's sshd) and the ground station's sshd, from where students stand.

From the lab server's loopback (where the class's SSH arrives): 150 connections of
garbage, 30 that speak a banner then binary packets with hostile length fields, and 10
that trickle one octet every 0.2 s, all to the published SSH port. From the attacker, as
the student: the same kinds of stream to the ground station's port 22. Afterwards the
student still logs in through the gateway with a password, the ground station still
greets, and no container of the instance restarted.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from live import started_at, tc_replay_instance

from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord

pytestmark = pytest.mark.docker

#: Run on the attacker as the student: hostile streams to ground-station:22, then whether
#: it still greets with an SSH banner. Prints {"sent": N, "banner": "..."}.
HOSTILE_TO_GROUND_STATION = """
import json, os, socket, struct, threading, time
target = ("ground-station", 22)
sent = 0
def one(payload, trickle=False):
    global sent
    try:
        with socket.create_connection(target, timeout=3) as s:
            if trickle:
                for octet in payload[:15]:
                    s.sendall(bytes([octet])); time.sleep(0.2)
            else:
                s.sendall(payload)
            sent += 1
    except OSError:
        pass
garbage = [os.urandom(4096) for _ in range(60)]
hostile = [b"SSH-2.0-x\\r\\n" + struct.pack(">I", length) + os.urandom(64)
           for length in (0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 35000, 262144) for _ in range(3)]
threads = [threading.Thread(target=one, args=(p,)) for p in garbage + hostile]
threads += [threading.Thread(target=one, args=(os.urandom(32), True)) for _ in range(5)]
for t in threads: t.start()
for t in threads: t.join(20)
with socket.create_connection(target, timeout=5) as s:
    banner = s.recv(64).decode("ascii", "replace")
print(json.dumps({"sent": sent, "banner": banner}))
"""


@pytest.fixture
def instance(lab_backend: DockerBackend, tmp_path: Path) -> Iterator[InstanceRecord]:
    with tc_replay_instance(lab_backend, tmp_path, "preauth") as (_, record):
        yield record


def _send(port: int, payload: bytes, trickle: bool = False) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
            if trickle:
                for octet in payload[:15]:
                    conn.sendall(bytes([octet]))
                    time.sleep(0.2)
            else:
                conn.sendall(payload)
    except OSError:
        pass  # a refused or reset connection is the server defending itself


def _login(port: int, password: str) -> str:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            "127.0.0.1",
            port=port,
            username="student",
            password=password,
            timeout=10,
            allow_agent=False,
            look_for_keys=False,
        )
        _, out, _ = client.exec_command("id -un", timeout=10)
        return str(out.read().decode().strip())
    finally:
        client.close()


def test_hostile_streams_before_authentication_stop_nothing(
    lab_backend: DockerBackend, instance: InstanceRecord
) -> None:
    port = instance.ports["attacker"]["22/tcp"]
    before = started_at(lab_backend, instance.id)
    hostile = [
        b"SSH-2.0-x\r\n" + length.to_bytes(4, "big") + os.urandom(64)
        for length in (0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 35000, 262144)
        for _ in range(5)
    ]
    jobs = [(os.urandom(4096), False) for _ in range(150)] + [(h, False) for h in hostile]
    jobs += [(os.urandom(32), True) for _ in range(10)]
    threads = [threading.Thread(target=_send, args=(port, *job)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert _login(port, instance.access["password"]) == "student"

    result = lab_backend.exec(
        instance.id, "attacker", ["python3", "-c", HOSTILE_TO_GROUND_STATION], user="student"
    )
    answer = json.loads(result.output.strip().splitlines()[-1])
    assert answer["sent"] > 0, result.output
    assert answer["banner"].startswith("SSH-2.0-OpenSSH"), answer

    assert started_at(lab_backend, instance.id) == before, "a container restarted"
    statuses = {s.host: s for s in lab_backend.status(instance.id)}
    assert all(s.state == "running" for s in statuses.values()), statuses
    assert _login(port, instance.access["password"]) == "student"
