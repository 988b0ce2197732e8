"""Portal benchmark: a class of N students (tc-replay) behind ``labctl serve``, N concurrent
browsers' worth of terminal keystrokes and page loads, against plain ``ssh`` to the same
workstations.

    python bench/portal.py [--count 35] [--keys 40] [--pages 20] [--parallel 4] [--think 1]

Prints, side by side with the goals (keystroke echo p95 < 50 ms, page load p95 < 150 ms,
portal memory < 250 MiB):

- terminal echo: each student's client logs in, opens the web terminal's websocket and
  types ``--keys`` characters one at a time, each timed from the send until its echo comes
  back (portal → asyncssh → the workstation's sshd → tmux → back). All N at once.
- baseline: the same keystrokes over a plain interactive SSH session (asyncssh client, a
  pty, no tmux) to each workstation through the port its gateway publishes: what a class
  of SSH tunnels would get.
- page loads: ``--pages`` loads of ``/lab`` (the briefing rendered for the student) per
  student, all N at once, and of mission control's login page through the proxy; twice:
  paced (each student clicks every ``--think`` seconds, jittered: a busy class) and back
  to back (every student reloading as fast as the portal answers: the worst case). The
  baseline for mission control: the same page from its own published port, paced alike.
- the portal's memory (RSS) and CPU-seconds, read from /proc for the ``labctl serve``
  process (plain HTTP on loopback: TLS costs are left out).

Everything runs against a temporary state folder and a session named ``bench<run>``,
removed at the end (also on failure or Ctrl-C). Nothing else on the engine is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncssh
import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from labctl.core.api import Core  # noqa: E402
from labctl.core.settings import Settings  # noqa: E402
from labctl.instances.lifecycle import mission_control_url  # noqa: E402

GOALS = {"echo p95": 50.0, "page p95": 150.0, "memory": 250.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS in MiB, CPU-seconds) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


async def login(client: httpx.AsyncClient, student: str, password: str) -> None:
    response = await client.post("/login", data={"login": student, "password": password})
    if response.status_code != 303:
        raise RuntimeError(f"{student}: login answered {response.status_code}")


async def web_echo(base: str, student: str, password: str, keys: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await login(client, student, password)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    url = base.replace("http://", "ws://") + "/terminal/ws"
    times = []
    async with websockets.connect(
        url, additional_headers={"Cookie": cookie, "Origin": base}, max_size=None
    ) as ws:
        await ws.send('{"type": "resize", "cols": 100, "rows": 30}')
        await _settle_ws(ws)
        for i in range(keys):
            char = "abcdefghij"[i % 10]
            started = time.perf_counter()
            await ws.send(char.encode())
            while True:
                data = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(data, bytes) and char.encode() in data:
                    break
            times.append((time.perf_counter() - started) * 1000)
        await ws.send(b"\x15")  # erase the typed line
    return times


async def _settle_ws(ws: websockets.ClientConnection) -> None:
    """Wait until the shell has printed its prompt and is quiet."""
    while True:
        try:
            await asyncio.wait_for(ws.recv(), 1.5)
        except TimeoutError:
            return


async def ssh_echo(port: int, password: str, keys: int) -> list[float]:
    times = []
    async with asyncssh.connect(
        "127.0.0.1",
        port,
        username="student",
        password=password,
        known_hosts=None,
        client_keys=None,
    ) as conn:
        process = await conn.create_process(term_type="xterm", term_size=(100, 30), encoding=None)
        await _settle_ssh(process)
        for i in range(keys):
            char = "abcdefghij"[i % 10]
            started = time.perf_counter()
            process.stdin.write(char.encode())
            while char.encode() not in await asyncio.wait_for(process.stdout.read(4096), 10):
                pass
            times.append((time.perf_counter() - started) * 1000)
        process.close()
    return times


async def _settle_ssh(process: asyncssh.SSHClientProcess[bytes]) -> None:
    while True:
        try:
            await asyncio.wait_for(process.stdout.read(4096), 1.5)
        except TimeoutError:
            return


async def pages(
    base: str, student: str, password: str, count: int, think: float
) -> tuple[list[float], list[float]]:
    """``count`` loads of /lab and of mission control's login page through the proxy;
    ``think`` seconds (0: none) between one student's clicks, jittered ±50 % and started
    at a random offset, so the students do not click in lockstep."""
    lab, mc = [], []
    rng = random.Random(student)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await login(client, student, password)
        await asyncio.sleep(rng.uniform(0, think))
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get("/lab")
            lab.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            started = time.perf_counter()
            response = await client.get("/mission-control/login")
            mc.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
    return lab, mc


async def direct_pages(url: str, count: int, think: float, seed: str) -> list[float]:
    """The baseline: mission control's login page straight from its published port."""
    times = []
    rng = random.Random(seed)
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.sleep(rng.uniform(0, think))
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get(url + "/login")
            times.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            await asyncio.sleep(2 * think * rng.uniform(0.5, 1.5))
    return times


def row(name: str, values: list[float], baseline: list[float] | None, goal: float | None) -> str:
    def figures(v: list[float]) -> str:
        return f"{statistics.median(v):7.1f} {percentile(v, 95):7.1f}"

    base = figures(baseline) if baseline else f"{'-':>7} {'-':>7}"
    return f"{name:<34} {figures(values)}   {base}   {'< ' + str(goal) if goal else '':>8}"


async def measure(
    args: argparse.Namespace, base: str, creds: list[tuple[str, str, int, str]]
) -> None:
    print(f"\n{len(creds)} students at once; times in ms (p50 p95)")
    echo = await asyncio.gather(*(web_echo(base, s, p, args.keys) for s, p, _, _ in creds))
    plain = await asyncio.gather(*(ssh_echo(port, p, args.keys) for _, p, port, _ in creds))
    web = [t for run in echo for t in run]
    ssh = [t for run in plain for t in run]
    print(f"{'':<34} {'portal':>15}   {'baseline':>15}   {'goal':>8}")
    print(f"{'':<34} {'p50':>7} {'p95':>7}   {'p50':>7} {'p95':>7}")
    print(row("terminal keystroke echo", web, ssh, GOALS["echo p95"]) + "   (plain ssh)")
    for think in (args.think, 0.0):
        loads, direct = await asyncio.gather(
            asyncio.gather(*(pages(base, s, p, args.pages, think) for s, p, _, _ in creds)),
            asyncio.gather(*(direct_pages(u, args.pages, think, s) for s, _, _, u in creds)),
        )
        lab = [t for run, _ in loads for t in run]
        mc = [t for _, run in loads for t in run]
        mc_direct = [t for run in direct for t in run]
        how = f"every ~{think:g} s" if think else "back to back"
        print(row(f"page load /lab, {how}", lab, None, GOALS["page p95"]))
        print(
            row(f"mission control, {how}", mc, mc_direct, GOALS["page p95"]) + "   (its own port)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=35)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds between one student's page loads in the paced run (the other run"
        " loads back to back)",
    )
    args = parser.parse_args()
    run = uuid.uuid4().hex[:4]
    home = Path(tempfile.mkdtemp(prefix="labctl-bench-portal-"))
    roster = home / "class.csv"
    ids = [f"b{run}s{i:02d}" for i in range(args.count)]
    roster.write_text("id,name,email\n" + "".join(f"{s},Student {s},{s}@x.org\n" for s in ids))
    core = Core(Settings(labs_dir=REPO / "labs", state_file=home / "labctl.db"))
    session = f"bench{run}"
    serve = None
    try:
        started = time.monotonic()
        core.sessions.start("tc-replay", roster, name=session, parallel=args.parallel)
        print(f"class of {args.count} up in {time.monotonic() - started:.0f} s")
        creds = []
        for member in core.sessions.members(session):
            record = core.instances.instances.current(member.instance)
            creds.append(
                (
                    member.student,
                    record.access["password"],
                    record.ports["attacker"]["22/tcp"],
                    mission_control_url(record),
                )
            )
        port = free_port()
        env = {**os.environ, "LABCTL_HOME": str(home), "LABCTL_LABS_DIR": str(REPO / "labs")}
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "labctl",
                "serve",
                "--session",
                session,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--insecure-http",
                "--ssh-port",
                "0",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/login", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        rss_idle, cpu_before = proc_stats(serve.pid)
        asyncio.run(measure(args, base, creds))
        rss, cpu_after = proc_stats(serve.pid)
        print(
            f"{'portal memory (RSS)':<34} {rss:7.0f} MiB (idle {rss_idle:.0f}){'':>14}{'< 250':>8}"
        )
        print(f"{'portal CPU during the run':<34} {cpu_after - cpu_before:7.1f} CPU-seconds")
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(15)
        core.sessions.stop(session)
    return 0


if __name__ == "__main__":
    sys.exit(main())
