"""A login brute force on mission control cannot fill its volumes (issue 12).

Every failed login is an audit row in mission control's SQLite archive and a line in
/var/log/labctl/mission-control-audit.jsonl, both on the instance's volumes. With the
bounds lowered by the lab's own means (set_config) so that a short flood goes far past
them, the student floods the login from the attacker for a bounded time; the files stay
under their bounds and the newest entries are the ones kept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import REPO, mission_control_url

from labctl.backends.docker import DockerBackend
from labctl.instances import InstanceRecord, Instances, InstanceStore
from labctl.scenario import InjectContext, PlacedInject, apply_injects
from labctl.spec import load_lab
from labctl.spec.models import InjectRef

pytestmark = pytest.mark.docker

HOST = "mission-control"
CONFIG = "/etc/labctl/mission-control.yaml"
KEEP = 500
MAX_BYTES = 65536
#: Rows one table holds at most: keep plus one batch (labctl.range.hosts.missioncontrol.db).
MAX_ROWS = KEEP + KEEP // 10
#: The archive at these bounds: a few hundred small rows per table, plus the WAL.
DB_BOUND = 2 * 1024 * 1024
WAL_BOUND = 5 * 1024 * 1024
FLOOD_SECONDS = 30
#: Run on the attacker as the student: wrong passwords for admin, 8 connections at once.
FLOOD = f"""
import http.client, json, threading, time
stop = time.monotonic() + {FLOOD_SECONDS}
counts = []
def hammer(n):
    done = 0
    conn = http.client.HTTPConnection("mission-control", 8080, timeout=10)
    while time.monotonic() < stop:
        body = json.dumps({{"username": "admin", "password": f"guess{{n}}-{{done}}"}})
        try:
            conn.request("POST", "/api/login", body, {{"Content-Type": "application/json"}})
            reply = conn.getresponse()
            reply.read()
            done += reply.status == 401
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("mission-control", 8080, timeout=10)
    counts.append(done)
threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(counts))
"""
#: Run on mission control as its own user: the files on its volumes and the audit rows.
INSPECT = """
import json, os, sqlite3
files = {}
for folder in ("/var/lib/labctl", "/var/log/labctl"):
    for name in os.listdir(folder):
        if name.startswith("."):
            continue  # /var/lib/labctl is the labctl user's home: its skeleton files
        files[os.path.join(folder, name)] = os.path.getsize(os.path.join(folder, name))
db = sqlite3.connect("file:/var/lib/labctl/mission-control.db?mode=ro", uri=True)
rows = db.execute("SELECT count(*), min(id), max(id) FROM audit").fetchone()
print(json.dumps({"files": files, "audit": rows}))
"""


@pytest.fixture
def instance(lab_backend: DockerBackend, tmp_path: Path) -> Iterator[InstanceRecord]:
    loaded = load_lab(REPO / "labs" / "tc-replay")
    instances = Instances(lab_backend, InstanceStore(tmp_path / "labctl.db"))
    record = instances.up(loaded, student=f"volbound{uuid.uuid4().hex[:6]}", seed=12)
    try:
        yield record
    finally:
        instances.down(record.id)


def lower_the_bounds(backend: DockerBackend, record: InstanceRecord) -> None:
    ctx = InjectContext(backend, record.id, REPO / "labs" / "tc-replay", {}, {HOST: HOST})
    values = {"database.keep.audit": KEEP, "audit_log.max_bytes": MAX_BYTES}
    injects = [
        PlacedInject(
            key,
            InjectRef(
                kind="set_config", host=HOST, args={"file": CONFIG, "key": key, "value": value}
            ),
        )
        for key, value in values.items()
    ]
    logs = apply_injects(ctx, injects)
    assert [log.changed for log in logs[:2]] == [True, True], logs


def test_a_login_flood_from_the_attacker_stays_within_mission_controls_volume_bounds(
    lab_backend: DockerBackend, instance: InstanceRecord
) -> None:
    lower_the_bounds(lab_backend, instance)
    mission_control_url(instance)  # up again and linked to the ground station
    flood = lab_backend.exec(instance.id, "attacker", ["python3", "-c", FLOOD], user="student")
    refused = int(flood.output.strip().splitlines()[-1])
    assert refused > 4 * KEEP, f"the flood reached mission control {refused} times"
    seen = lab_backend.exec(instance.id, HOST, ["python3", "-c", INSPECT], user="labctl")
    assert seen.exit_code == 0, seen.output
    found = json.loads(seen.output)
    files, (rows, oldest, newest) = found["files"], found["audit"]
    print(f"{refused} refused logins in {FLOOD_SECONDS} s; audit rows {rows}; files {files}")
    trail = "/var/log/labctl/mission-control-audit.jsonl"
    assert files[trail] <= MAX_BYTES, files
    assert files[f"{trail}.1"] <= MAX_BYTES, files
    assert set(files) <= {
        trail,
        f"{trail}.1",
        "/var/lib/labctl/mission-control.db",
        "/var/lib/labctl/mission-control.db-wal",
        "/var/lib/labctl/mission-control.db-shm",
    }, files
    assert files["/var/lib/labctl/mission-control.db"] <= DB_BOUND, files
    assert files.get("/var/lib/labctl/mission-control.db-wal", 0) <= WAL_BOUND, files
    assert KEEP <= rows <= MAX_ROWS
    assert newest - oldest < MAX_ROWS  # the newest rows, not a sample
    assert newest >= refused  # every attempt was recorded before the oldest were dropped
