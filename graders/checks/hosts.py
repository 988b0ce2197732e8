"""Checks on the ground station as a host: SSH logins, key files, and what a stolen key
still does on the uplink.

The ground station is a host students may own (root in gs-ssh-keys), so nothing here
believes a program that runs there. ``ssh_password_refused`` logs in from the grader
vantage like any SSH client would, and where sshd does not answer it, from a vantage on
each of the host's other networks (an sshd no vantage reaches is an error, not a pass).
``file_private`` reads a file's mode out of band, from the container engine's own view
of the host's file system (``Probe.host_stat``), not from the host's ``stat``.
``old_key_rejected`` forges a telecommand with a key from the vantage and judges from the
spacecraft's ground truth; ``unsent_command_executed`` compares the spacecraft's executed
commands with what mission control sent.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from typing import Annotated, Any, ClassVar, Final

from pydantic import Field, StringConstraints, field_validator

from graders.checks.base import (
    VANTAGE_NETWORKS,
    Check,
    CheckResult,
    HostFileStat,
    Probe,
    failed,
    passed,
    unobserved,
)
from graders.checks.forgery import GRADER_SOURCE_IDS, TEMPLATE_PATTERN
from graders.checks.observe import (
    command_name,
    delivery_problem,
    executed,
    login,
    truth_list,
    wait_for,
)
from graders.checks.replay import vantage_json
from labctl.range import wiring
from labctl.spec.vocabulary import Args, HostName, PortNumber

SSH_VANTAGE: Final = wiring.vantage_program("ssh")
KEYED_VANTAGE: Final = wiring.vantage_program("keyed")
#: How long a forged frame has to show up in ground truth.
SETTLE_S: Final = 6.0
#: Sent commands mission control lists at most (its API's limit).
SENT_LIMIT: Final = 500

# --- SSH --------------------------------------------------------------------------------


class SshPasswordRefusedArgs(Args):
    host: HostName = "ground-station"
    port: PortNumber = 22
    username: str = Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="account to try")
    password: str = Field(default="", max_length=128, description="its (weak) password")


class SshPasswordRefused(Check[SshPasswordRefusedArgs]):
    name: ClassVar[str] = "ssh_password_refused"
    summary: ClassVar[str] = (
        "From the grader vantage (else from the host's other networks), the host's sshd"
        " offers no password login (neither 'password' nor 'keyboard-interactive') and the"
        " given password gets nobody in."
    )
    Args = SshPasswordRefusedArgs

    def judge(self, args: SshPasswordRefusedArgs, probe: Probe) -> CheckResult:
        where = f"sshd on {args.host}:{args.port}"
        result, detail = _vantage_report(probe.vantage_exec(_ssh_argv(args), 45.0))
        if result is not None:
            return ssh_verdict(where, args.username, result)
        return _from_other_networks(probe, args, where, f"from the attacker's networks: {detail}")


def _ssh_argv(args: SshPasswordRefusedArgs, address: str | None = None) -> list[str]:
    argv = [*SSH_VANTAGE, "--host", address or args.host, "--port", str(args.port)]
    return [*argv, "--username", args.username, "--password", args.password]


def _vantage_report(run: tuple[int, str]) -> tuple[dict[str, Any] | None, str]:
    """The vantage's report, or None and why sshd did not answer it (a report without its
    list of methods is no answer: nothing would be judged from it)."""
    code, output = run
    result = vantage_json(output)
    if code == 0 and result is not None and "error" not in result:
        if isinstance(result.get("methods"), list):
            return result, ""
        return None, f"the vantage's report lists no methods ({output.strip()[-200:]})"
    return None, (result or {}).get("error") or output.strip()[-300:] or f"exit {code}"


def _from_other_networks(
    probe: Probe, args: SshPasswordRefusedArgs, where: str, unanswered: str
) -> CheckResult:
    """sshd does not answer the attacker's side (bound to the ground network, firewalled,
    stopped): try it from each of the host's other networks, a vantage of its own on each.
    Any password offered there fails; nothing answering anywhere is an error."""
    verdicts: list[CheckResult] = []
    tried = [unanswered]
    for network, address in sorted(probe.host_networks(args.host).items()):
        if network in VANTAGE_NETWORKS:
            continue
        run = probe.vantage_exec_on(network, _ssh_argv(args, address), 30.0)
        result, detail = _vantage_report(run)
        if result is None:
            tried.append(f"from the {network} network: {detail}")
            continue
        verdict = ssh_verdict(f"{where} from the {network} network", args.username, result)
        verdicts.append(
            CheckResult(verdict.status, f"{verdict.evidence}; {unanswered}", verdict.hint)
        )
    if not verdicts:
        return unreachable(where, "; ".join(tried))
    return next((v for v in verdicts if not v.passed), verdicts[0])


def unreachable(where: str, detail: str) -> CheckResult:
    """sshd answered no vantage: nothing was observed, so nothing is judged. (The host's
    own ``sshd -T`` is no witness: root there can make it print anything.)"""
    return unobserved(
        f"{where}: cannot observe, no vantage reached it ({detail})",
        "The check logs in from the host's networks: keep sshd answering there, keys only.",
    )


def ssh_verdict(where: str, username: str, result: dict[str, Any]) -> CheckResult:
    """Judge the vantage's report: methods offered, password tried with each."""
    methods = [str(m) for m in result.get("methods") or []]
    offered = ", ".join(methods) or "nothing"
    if result.get("password") or result.get("keyboard_interactive"):
        return failed(
            f"{where} offers {offered}; {username!r} logged in with the password",
            "Turn password authentication off: keys only.",
        )
    typed = [m for m in ("password", "keyboard-interactive") if m in methods]
    if "none" in methods:
        return failed(f"{where} let {username!r} in without any credential")
    if typed:
        return failed(
            f"{where} offers {offered}: a password can still be typed ({', '.join(typed)});"
            " this one was refused",
            "PasswordAuthentication no (and KbdInteractiveAuthentication no), then reload sshd.",
        )
    return passed(f"{where} offers only {offered} to {username!r}: no password login")


# --- files -------------------------------------------------------------------------------


#: Mounts the container engine's archive API does not read (tmpfs, proc, sysfs): a file
#: there reads as missing, whatever the host holds (every role's /run and /tmp, the
#: ground station's and attacker's /var/tmp; docs/backends.md).
UNSEEN_MOUNTS: Final = ("/dev", "/proc", "/run", "/sys", "/tmp", "/var/tmp")
SYMLINK_MODE: Final = 0o777


class FilePrivateArgs(Args):
    host: HostName = "ground-station"
    path: str = Field(pattern=r"^/[A-Za-z0-9._/-]{1,250}$", description="absolute path")
    missing_ok: bool = Field(
        default=False, description="a file that no longer exists counts as private"
    )

    @field_validator("path")
    @classmethod
    def _seen_by_the_engine(cls, value: str) -> str:
        if posixpath.normpath(value) != value:
            raise ValueError(f"write the path plainly, without '.', '..' or '//' ({value!r})")
        if any(value == m or value.startswith(f"{m}/") for m in UNSEEN_MOUNTS):
            raise ValueError(
                f"{value} is on a tmpfs or virtual file system ({', '.join(UNSEEN_MOUNTS)}),"
                " which the container engine does not read: the check could not observe it"
            )
        return value


class FilePrivate(Check[FilePrivateArgs]):
    name: ClassVar[str] = "file_private"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "A file on a host gives its group and other users no access (mode ?-00), read out of"
        " band by the container engine."
    )
    Args = FilePrivateArgs

    def judge(self, args: FilePrivateArgs, probe: Probe) -> CheckResult:
        where = f"{args.path} on {args.host}"
        found = probe.host_stat(args.host, args.path)
        if found is not None:
            return mode_verdict(where, found)
        hidden = unseen_ancestor(probe, args.host, args.path)
        if hidden is not None:
            return unobserved(
                f"{where} reads as missing, but {hidden} is not a directory the container"
                " engine sees through (a symbolic link?): cannot tell whether the file is gone",
            )
        if not args.missing_ok:
            return failed(f"{where} does not exist (as the container engine reads the host)")
        return passed(f"{where} no longer exists: nothing left to read")


def unseen_ancestor(probe: Probe, host: str, path: str) -> str | None:
    """The first directory above ``path`` that is not a plain directory to the engine (a
    symbolic link, which may point into a tmpfs the engine does not read), else None.

    A plain directory reads the same with and without a trailing ``/``; a link reads as
    itself without it and as its target (or nothing) with it. Below the first component
    the engine finds missing, nothing can hide: its parent is a plain directory."""
    current = ""
    for part in path.strip("/").split("/")[:-1]:
        current = f"{current}/{part}"
        itself = probe.host_stat(host, current)
        if itself is None:
            return None
        if probe.host_stat(host, f"{current}/") != itself:
            return current
    return None


def mode_verdict(where: str, found: HostFileStat) -> CheckResult:
    shown = f"{where}: mode {found.mode:04o}, owner uid {found.uid}, gid {found.gid}"
    if found.mode == SYMLINK_MODE:
        shown += " (or a symbolic link, which the check judges as itself and does not follow)"
    if found.mode & 0o077:
        return failed(shown, "chmod 0600 (owner only): group and other users must not read it.")
    return passed(shown)


# --- keys on the uplink -----------------------------------------------------------------


class OldKeyRejectedArgs(Args):
    key: str = Field(
        pattern=r"^\s*([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64}|\{\{.*\}\})\s*$",
        description="the old key, hex (e.g. '{{ params.uplink_key }}')",
    )
    spi: int | Annotated[str, StringConstraints(pattern=TEMPLATE_PATTERN)] = Field(
        description="SPI the key was used on (e.g. '{{ params.uplink_spi }}')"
    )
    command: str = Field(default="17.1", pattern=r"^\d{1,3}\.\d{1,3}$")


class OldKeyRejected(Check[OldKeyRejectedArgs]):
    name: ClassVar[str] = "old_key_rejected"
    summary: ClassVar[str] = (
        "A telecommand forged from the vantage with an old (compromised) key is not executed"
        " (spacecraft ground truth)."
    )
    Args = OldKeyRejectedArgs

    def judge(self, args: OldKeyRejectedArgs, probe: Probe) -> CheckResult:
        key = args.key.strip()
        if not isinstance(args.spi, int) or not 0 <= args.spi <= 0xFFFF or "{" in key:
            return unobserved(f"old_key_rejected: key and spi were not rendered ({args.spi!r})")
        spi = args.spi
        truth = probe.truth()
        scid = truth.get("scid")
        if not isinstance(scid, int):
            return unobserved("cannot forge a frame: the ground truth names no spacecraft id")
        # The next sequence number the SA would take: an eavesdropper reads the counter off
        # the air (the IV is in clear); ground truth gives it without waiting for traffic.
        arsn = _last_sequence_number(truth, spi) + 1
        name = command_name(args.command)
        argv = [*KEYED_VANTAGE, "--key", key, "--spi", str(spi)]
        argv += ["--scid", str(scid), "--arsn", str(arsn), "--command", name]
        code, output = probe.vantage_exec(argv, 30.0)
        sent = vantage_json(output)
        if code != 0 or sent is None or "error" in sent:
            detail = (sent or {}).get("error") or output.strip()[-300:] or f"exit {code}"
            return unobserved(f"the vantage could not transmit the forged frame: {detail}")
        what = f"{name} forged with the old key on SPI {spi} (sequence number {arsn})"

        fingerprint = str(sent.get("fingerprint") or "")

        def ran() -> bool:
            return any(_is_frame(e, spi, arsn, fingerprint) for e in executed(probe.truth()))

        if wait_for(ran, SETTLE_S):
            return failed(
                f"{what}: executed", "Rotate the key on both ends; retire the compromised SA."
            )
        after = probe.truth()
        lost = delivery_problem(truth, after, what)
        if lost is not None:
            return lost
        return passed(f"{what}: not executed ({_why_rejected(after, spi)})")


def _last_sequence_number(truth: dict[str, Any], spi: int) -> int:
    for sa in truth_list(truth, "security_associations"):
        if sa.get("spi") == spi and sa.get("direction", "uplink") == "uplink":
            number = sa.get("sequence_number")
            return number if isinstance(number, int) and number >= 0 else 0
    return 0


def _is_frame(entry: dict[str, Any], spi: int, arsn: int, fingerprint: str = "") -> bool:
    """Is ``entry`` the forged frame? By its fingerprint where both sides give one: once
    the SA is in use again (the fix moved the station to it), the station's own frame
    under the same sequence number is not the forgery."""
    if fingerprint and entry.get("frame_digest"):
        return bool(entry["frame_digest"] == fingerprint)
    return bool(entry.get("spi") == spi and entry.get("sequence_number") == arsn)


def _why_rejected(truth: dict[str, Any], spi: int) -> str:
    """The spacecraft's reason for the last rejected frame on ``spi``, if it logged one."""
    for entry in reversed(truth.get("rejected_frames") or []):
        if entry.get("spi") == spi:
            return f"spacecraft: {entry.get('reason')}"
    known = [sa for sa in truth.get("security_associations") or [] if sa.get("spi") == spi]
    return f"SA {spi} is {known[0].get('state')}" if known else f"no SA {spi} on board"


# --- attack objective -------------------------------------------------------------------


class UnsentCommandExecutedArgs(Args):
    command: str | None = Field(
        default=None,
        pattern=r"^\d{1,3}\.\d{1,3}$",
        description="only count this PUS service.subtype; none = any command",
    )


class UnsentCommandExecuted(Check[UnsentCommandExecutedArgs]):
    name: ClassVar[str] = "unsent_command_executed"
    summary: ClassVar[str] = (
        "Attack objective: the spacecraft executed an SDLS-authenticated command that mission"
        " control never sent (executed commands against mission control's sent list)."
    )
    Args = UnsentCommandExecutedArgs

    def judge(self, args: UnsentCommandExecutedArgs, probe: Probe) -> CheckResult:
        # Ground truth first: whatever mission control sent before it is listed by then.
        mine = executed(probe.truth(), args.command)
        ran = [e for e in mine if e.get("source_id") not in GRADER_SOURCE_IDS]
        token = login(probe, "operator")
        status, body = probe.api("GET", f"/api/commands/sent?limit={SENT_LIMIT}", None, token)
        sent = body.get("commands") if status == 200 and isinstance(body, dict) else None
        if not isinstance(sent, list):
            return unobserved(
                f"cannot compare: mission control's sent commands are not readable (HTTP {status})"
            )
        extra = unsent(ran, sent)
        what = f"PUS {args.command}" if args.command else "any command"
        if not extra:
            return failed(
                f"every authenticated command executed ({len(ran)}, {what}) was sent by"
                " mission control",
                "Get the uplink key, then command the spacecraft yourself.",
            )
        entry = extra[0]
        return passed(
            f"the spacecraft executed {entry.get('name')} {entry.get('args') or {}} on SPI"
            f" {entry.get('spi')} (sequence number {entry.get('sequence_number')}) that"
            " mission control never sent"
        )


def _signature(name: Any, args: Any) -> tuple[str, tuple[tuple[str, int], ...]]:
    pairs = args.items() if isinstance(args, dict) else ()
    return str(name), tuple(sorted((str(k), int(v)) for k, v in pairs if isinstance(v, int)))


def unsent(ran: list[dict[str, Any]], sent: list[Any]) -> list[dict[str, Any]]:
    """Executed entries beyond what mission control sent, command by command (name, args)."""
    budget = Counter(
        _signature(row.get("name"), row.get("args")) for row in sent if isinstance(row, dict)
    )
    extra = []
    for entry in ran:
        signature = _signature(entry.get("name"), entry.get("args"))
        if budget[signature] > 0:
            budget[signature] -= 1
        else:
            extra.append(entry)
    return extra
