"""A fake host engine for the appliers: files with mode and owner, accounts, sshd, iptables.

It implements just enough of each command the appliers run (id, getent, useradd,
usermod, chpasswd, cat, kill, sshd, iptables) and of ``stat`` and ``/etc/passwd`` to show
what they change, through the same backend interface as the Docker backend. ``started``:
False models a created host that has not run yet (no commands, files only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from labctl.backends.base import DownReport, ExecResult, FileSpec, FileStat, HostStatus
from labctl.errors import BackendError

UIDS = {"root": 0, "labctl": 10001}


@dataclass
class FakeHost:
    files: dict[str, FileSpec] = field(default_factory=dict)
    users: dict[str, dict[str, object]] = field(default_factory=dict)
    sshd_pid: int | None = 41
    rules: list[tuple[str, ...]] = field(default_factory=list)
    networks: set[str] = field(default_factory=set)
    started: bool = True
    #: Groups with no user of that name (Debian's base system has "operator").
    groups: set[str] = field(default_factory=lambda: {"operator"})

    def passwd(self) -> bytes:
        lines = [f"{name}:x:{uid}:{uid}::/:/bin/sh" for name, uid in UIDS.items()]
        lines += [f"{n}:x:1000:1000::/home/{n}:{u['shell']}" for n, u in self.users.items()]
        return "\n".join([*lines, ""]).encode()


@dataclass
class FakeBackend:
    name: str = "fake"
    hosts: dict[str, FakeHost] = field(default_factory=dict)
    commands: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    fail_restart: bool = False
    home_refreshes: int = 0

    def host(self, name: str) -> FakeHost:
        if name not in self.hosts:
            raise BackendError(f"find host {name}", "no such host")
        return self.hosts[name]

    # --- files -----------------------------------------------------------------------------
    def copy_to(self, instance_id: str, host: str, files: Mapping[str, FileSpec]) -> None:
        for path, spec in files.items():
            self.host(host).files[path] = spec
            self.writes.append((host, path))

    def copy_from(self, instance_id: str, host: str, path: str) -> bytes:
        if path == "/etc/passwd":
            return self.host(host).passwd()
        spec = self.host(host).files.get(path)
        if spec is None or spec.content is None:
            raise BackendError(f"copy {path} out of {host}", "no such file")
        return spec.content

    def read_file(self, instance_id: str, host: str, path: str) -> tuple[bytes, FileStat] | None:
        meta = self.stat(instance_id, host, path)
        if meta is None and path != "/etc/passwd":
            return None
        return self.copy_from(instance_id, host, path), meta or FileStat(0o644, 0, 0)

    def stat(self, instance_id: str, host: str, path: str) -> FileStat | None:
        spec = self.host(host).files.get(path)
        return None if spec is None else FileStat(spec.mode, spec.uid, spec.gid)

    # --- commands ----------------------------------------------------------------------------
    def exec(
        self, instance_id: str, host: str, argv: Sequence[str], user: str = "root"
    ) -> ExecResult:
        self.commands.append((host, tuple(argv)))
        target = self.host(host)
        if not target.started:
            raise BackendError(f"exec {argv[0]} in {host}", "container is not running")
        handler = getattr(self, f"_cmd_{argv[0].rsplit('/', 1)[-1].replace('3', '')}", None)
        if handler is None:
            return ExecResult(127, f"{argv[0]}: not found")
        result: ExecResult = handler(target, list(argv[1:]), user)
        return result

    def _cmd_id(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        name = args[-1]
        if name in host.users:
            groups = host.users[name]["groups"]
            return ExecResult(0, f"{name} {' '.join(groups)}\n" if args[0] == "-nG" else "1000\n")  # type: ignore[arg-type]
        if name not in UIDS:
            return ExecResult(1, f"id: '{name}': no such user")
        return ExecResult(0, f"{UIDS[name]}\n")

    def _cmd_getent(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        if args[0] == "group":
            known = args[1] in host.groups or args[1] in host.users
            return ExecResult(0 if known else 2, f"{args[1]}:x:1000:\n" if known else "")
        entry = host.users.get(args[1])
        if entry is None:
            return ExecResult(2, "")
        if args[0] == "shadow":
            return ExecResult(0, f"{args[1]}:{entry['hash']}:19000:0:99999:7:::\n")
        return ExecResult(0, f"{args[1]}:x:1000:1000::/home/{args[1]}:{entry['shell']}\n")

    def _cmd_useradd(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        if args[-1] in host.groups and "-g" not in args:
            return ExecResult(9, f"useradd: group {args[-1]} exists - if you want to add ...")
        groups = args[args.index("-G") + 1].split(",") if "-G" in args else []
        shell = args[args.index("-s") + 1]
        host.users[args[-1]] = {"shell": shell, "groups": groups, "hash": "!"}
        return ExecResult(0, "")

    def _cmd_usermod(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        entry = host.users[args[-1]]
        if args[0] == "-s":
            entry["shell"] = args[1]
        else:
            entry["groups"] = [*entry["groups"], *args[2].split(",")]  # type: ignore[misc]
        return ExecResult(0, "")

    def _cmd_sh(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        if args[1].startswith("cp -an /usr/local/share/labctl/home/. /home/student/"):
            self.home_refreshes += 1
            return ExecResult(0, "")
        assert "chpasswd" in args[1]
        host.users[args[3]]["hash"] = f"$6$fake${args[4]}"
        return ExecResult(0, "")

    def _cmd_python(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        password, stored = args[-2], args[-1]
        return ExecResult(0 if stored == f"$6$fake${password}" else 1, "")

    def _cmd_cat(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        if args[0] == "/run/sshd.pid" and host.sshd_pid is not None:
            return ExecResult(0, f"{host.sshd_pid}\n")
        if host.sshd_pid is not None and args[0] == f"/proc/{host.sshd_pid}/comm":
            return ExecResult(0, "sshd\n")
        return ExecResult(1, f"cat: {args[0]}: No such file or directory")

    def _cmd_kill(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        host.sshd_pid = None
        return ExecResult(0, "")

    def _cmd_sshd(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        host.sshd_pid = 77
        return ExecResult(0, "")

    def _cmd_iptables(self, host: FakeHost, args: list[str], user: str) -> ExecResult:
        rule = tuple(args[1:])
        if args[0] == "-C":
            return ExecResult(0 if rule in host.rules else 1, "")
        if args[0] == "-I":
            host.rules.insert(0, rule)
        else:
            host.rules.remove(rule)
        return ExecResult(0, "")

    # --- engine ----------------------------------------------------------------------------
    def restart(self, instance_id: str, host: str) -> HostStatus:
        if self.fail_restart:
            raise BackendError(f"restart {host}", "not healthy in time")
        self.restarted.append(host)
        return HostStatus(host, "running", "healthy")

    def connect(self, instance_id: str, host: str, network: str) -> bool:
        changed = network not in self.host(host).networks
        self.host(host).networks.add(network)
        return changed

    def disconnect(self, instance_id: str, host: str, network: str) -> bool:
        changed = network in self.host(host).networks
        self.host(host).networks.discard(network)
        return changed

    def down(self, instance_id: str, progress: object = None) -> DownReport:
        return DownReport(0, 0, 0)
