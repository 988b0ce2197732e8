"""Bring instances up and down on a backend, keeping the SQLite record in step."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from labctl.backends.base import (
    Backend,
    DownReport,
    HostStatus,
    InstancePlan,
    Progress,
    no_progress,
)
from labctl.errors import InputError, LabctlError, NotFoundError
from labctl.instances.adversary import render_timeline, start_adversary
from labctl.instances.homes import Homes
from labctl.instances.ids import instance_id, non_blank
from labctl.instances.leases import EXPIRED, IDLE, LIVE, Lease, Leases, utcnow
from labctl.instances.locks import hold, holder, lock_path, starting_state
from labctl.instances.plan import host_roles, plan_instance
from labctl.instances.provision import initial_files, ssh_host_key
from labctl.instances.store import Event, InstanceRecord, InstanceStore, Ports
from labctl.range import wiring
from labctl.range.adversary import ADVERSARY_HOST
from labctl.scenario import (
    InjectContext,
    InjectLog,
    PlacedInject,
    apply_file_injects,
    apply_live_injects,
    grader_injects,
    lab_injects,
    parameters,
    phase_injects,
)
from labctl.scenario import variables as template_variables
from labctl.spec import LoadedLab

ATTACKER = "attacker"
#: The workstation's home seed (a volume): the entrypoint copies it into the student's
#: home (a tmpfs) at every start; a phase that opens copies what it added at once.
HOME_SEED_DIR: Final = "/usr/local/share/labctl/home"
STUDENT_HOME: Final = "/home/student"
#: The event kind that records an opened phase (summary ``phase <id> opened``).
PHASE_EVENT: Final = "phase"
PASSWORD_ENV = "LABCTL_STUDENT_PASSWORD"
#: The attacker's SSH host key (its root is read-only: the key comes with the container,
#: so a restarted workstation keeps it; containers/attacker/entrypoint.sh).
HOST_KEY_ENV = "LABCTL_SSH_HOST_KEY"
#: Seeds labctl draws are below SEED_LIMIT; a given seed may be up to SEED_MAX, the largest
#: integer SQLite stores (parameters derive from its decimal text, so any of them works).
SEED_LIMIT = 2**31
SEED_MAX: Final = 2**63 - 1
#: apply_file_injects or apply_live_injects
ApplyPhase = Callable[[InjectContext, list[PlacedInject], Callable[[InjectLog], None]], object]


@dataclass(frozen=True)
class InstanceView:
    """An instance as recorded (None for leftovers on the engine) and as running."""

    id: str
    record: InstanceRecord | None
    hosts: list[HostStatus]
    #: running, starting (a labctl is on it), interrupted (a killed `up` left it: the
    #: hosts may run, but nothing was applied or recorded), not recorded
    state: str = "running"
    #: what the state means and what to do ("" when running)
    explanation: str = ""


#: The record's status of an instance a failed ``up --keep-on-failure`` left for inspection.
FAILED: Final = "failed"
#: Statuses of an instance labctl took down for its lease (docs/instructor-guide.md,
#: "Lifetimes, idle stops and caps"): its hosts stopped (idle), or removed (expired).
STOPPED: Final = "stopped"
EXPIRED_STATUS: Final = "expired"
#: The event kind of what a lease did (stopped, removed, started again, renewed).
LEASE_EVENT: Final = "lease"


class InstanceKept(LabctlError):
    """``up`` failed and, as asked, left the instance for inspection: the error, then how
    to look at the instance and how to remove it."""

    def __init__(self, ident: str, cause: LabctlError) -> None:
        self.ident = ident
        self.cause = cause
        self.exit_code = cause.exit_code
        super().__init__(f"{cause.one_line()}\n{kept_explanation(ident)}")


def kept_explanation(ident: str, what: str = "was kept") -> str:
    """What a kept instance is, how to inspect it, how to remove it (one line)."""
    return (
        f"instance {ident} {what} for inspection: labctl status {ident};"
        f" labctl logs {ident} HOST; labctl shell {ident} HOST; remove it with"
        f" labctl down {ident}"
    )


class InstanceBusyError(LabctlError):
    """Another labctl process is bringing the instance up."""

    def __init__(self, ident: str, holder: str) -> None:
        who = f"labctl (pid {holder})" if holder else "another labctl command"
        super().__init__(f"instance {ident!r} is being started by {who}; wait until it ends")


class Instances:
    def __init__(self, backend: Backend, store: InstanceStore) -> None:
        self.backend = backend
        self.store = store
        self.leases = Leases(store)
        self.homes = Homes(store)

    def up(
        self,
        loaded: LoadedLab,
        student: str,
        seed: int | None = None,
        progress: Progress = no_progress,
        *,
        slot: int | None = None,
        ident: str | None = None,
        password: str | None = None,
        keep_on_failure: bool = False,
        lifetime: int = 0,
        idle: int = 0,
    ) -> InstanceRecord:
        """Plan, record, bring up ``student``'s instance of ``loaded`` and apply the lab's
        injects with the student's parameters; all or nothing (``keep_on_failure``: a
        failed instance stays, recorded as ``failed``, and :class:`InstanceKept` says how
        to inspect and remove it).

        Injects that change only files go into the created hosts before their first start
        (the backend's ``before_start``), so no host restarts; the others need running
        hosts and come once every host is healthy. A class session gives the student's
        roster ``slot`` (parameters derive with it), the instance's ``ident`` and, when it
        replaces an instance, the student's ``password``. ``lifetime`` and ``idle``
        (seconds, 0 for none) make its lease; a home kept for the instance id (an earlier
        instance that expired) goes into the new workstation before it starts."""
        record = new_record(
            loaded, student, seed, self.backend.name, slot=slot, ident=ident, password=password
        )
        self.store.check_writable()
        with hold(self._lock(record.id), lambda pid: InstanceBusyError(record.id, pid)):
            started = self._bring_up(loaded, record, progress, keep_on_failure)
            if lifetime or idle:
                self.leases.put(started.id, lifetime, idle)
            else:
                self.leases.forget(started.id)
            return started

    def _bring_up(
        self, loaded: LoadedLab, record: InstanceRecord, progress: Progress, keep: bool = False
    ) -> InstanceRecord:
        """:meth:`up` once the instance's lock is held (a killed ``up`` is cleared first)."""
        plan = instance_plan(loaded, record)
        ctx, injects = self._scenario(loaded, record), lab_injects(loaded.spec)
        if wiring.MISSION_CONTROL in {host.name for host in plan.hosts}:
            injects = [*grader_injects(record.seed, record.id), *injects]
        timeline = render_timeline(loaded.spec.adversary, ctx.variables)
        self._clear_interrupted(record.id, progress)
        self.store.reserve(record)
        try:
            hosts = self.backend.up(
                plan,
                progress,
                before_start=lambda _: self._before_start(ctx, injects, plan),
                keep_on_failure=keep,
            )
        except LabctlError as exc:
            if not keep:
                self.store.delete(record.id)
                raise
            self._keep(record.id)
            raise InstanceKept(record.id, exc) from exc
        except BaseException:
            self.store.delete(record.id)
            raise
        try:
            self._apply(apply_live_injects, ctx, injects)
            self._start_adversary(record.id, plan, len(loaded.spec.adversary), timeline)
        except LabctlError as exc:
            if not keep:
                self._roll_back(record.id, progress)
                raise
            self._keep(record.id)
            raise InstanceKept(record.id, exc) from exc
        except BaseException:
            self._roll_back(record.id, progress)
            raise
        self.store.update(record.id, status="running", ports=ports_of(hosts))
        return self.get(record.id)

    def _before_start(
        self, ctx: InjectContext, injects: list[PlacedInject], plan: InstancePlan
    ) -> None:
        """The file injects, then the student's kept home (over the lab's seed files: the
        student's own versions win)."""
        self._apply(apply_file_injects, ctx, injects)
        if ATTACKER in {host.name for host in plan.hosts}:
            restored = self.homes.restore(self.backend, plan.instance_id)
            if restored:
                self._lease_event(plan.instance_id, f"home restored: {restored} file(s)")

    def _keep(self, ident: str) -> None:
        """A failed instance left for inspection: recorded as failed, with its ports."""
        with suppress(LabctlError):
            self.store.update(ident, status=FAILED, ports=ports_of(self.backend.status(ident)))
            return
        self.store.update(ident, status=FAILED)

    def _lock(self, ident: str) -> Path:
        return lock_path(self.store.path, "instance", ident)

    def _clear_interrupted(self, ident: str, progress: Progress) -> None:
        """What a killed ``up`` of ``ident`` left (a ``starting`` record, maybe hosts),
        removed; the caller holds the instance's lock, so no labctl is still on it."""
        old = self.store.get(ident)
        if old is not None and old.status == "starting":
            progress(ident, "removing what an interrupted up left")
            self._roll_back(ident, progress)

    def _scenario(self, loaded: LoadedLab, record: InstanceRecord) -> InjectContext:
        """What the lab's injects work with: rendered with the student's parameters."""
        params = parameters(loaded.spec, record.student, record.seed, record.slot)
        hidden = frozenset(params.secrets().values())
        return InjectContext(
            self.backend,
            record.id,
            loaded.root,
            variables_of(loaded, record),
            host_roles(loaded),
            hidden,
        )

    def _apply(self, phase: ApplyPhase, ctx: InjectContext, injects: list[PlacedInject]) -> None:
        """One phase of the lab's injects, each one recorded in the events table."""

        phase(ctx, injects, lambda log: self._remember(ctx.instance_id, log))

    def _start_adversary(self, ident: str, plan: InstancePlan, steps: int, timeline: str) -> None:
        """The scripted adversary's container, when the lab has a timeline; recorded."""
        if not steps:
            return
        networks = start_adversary(self.backend, ident, timeline, [n.name for n in plan.networks])
        now = datetime.now(UTC).isoformat(timespec="seconds")
        summary = f"adversary started: {steps} step(s), on {', '.join(networks)}"
        self.store.add_event(Event(ident, now, "adversary", ADVERSARY_HOST, summary, True))

    def _roll_back(self, ident: str, progress: Progress) -> None:
        """Remove a half-made instance; the error that caused it is the one to report."""
        with suppress(LabctlError):
            self.backend.down(ident, progress)
        self.store.delete(ident)

    # -- leases: renew, activity, idle stops, expiry, starting again ----------------------

    def lease(self, ident: str) -> Lease | None:
        return self.leases.get(ident)

    def renew(self, ident: str, seconds: int | None = None) -> Lease:
        """Push the instance's end to ``seconds`` (its own lifetime when None) from now."""
        record = self.get(ident)
        lease = self.leases.get(ident)
        if lease is None or not lease.lifetime:
            raise InputError(f"instance {ident} has no lifetime to renew: it runs until removed")
        if record.status not in {"running", STOPPED}:
            raise InputError(
                f"instance {ident} is {record.status}: only a running or stopped one is renewed"
            )
        renewed = self.leases.renew(ident, seconds or lease.lifetime)
        self._lease_event(ident, f"renewed until {renewed.expires}")
        return renewed

    def touch(self, ident: str) -> None:
        """Its student did something (the idle clock starts again)."""
        self.leases.touch(ident)

    def stop_idle(self, ident: str, progress: Progress = no_progress) -> int:
        """Keep the student's home, then stop every host (nothing removed): the
        instance's memory is given back until :meth:`resume`. HomeTooLarge when the home
        cannot be kept; the instance then keeps running. The hosts stopped."""
        record = self.get(ident)
        if record.status != "running":
            raise InputError(f"instance {ident} is {record.status}, not running")
        with hold(self._lock(ident), lambda pid: InstanceBusyError(ident, pid)):
            kept = self._keep_home(record)
            stopped = self.backend.stop(ident, progress)
            self.store.update(ident, status=STOPPED)
            self.leases.set_state(ident, IDLE)
        self._lease_event(ident, f"stopped for idleness ({stopped} host(s)){kept}")
        return stopped

    def expire(self, ident: str, progress: Progress = no_progress) -> DownReport:
        """The lifetime ended: keep the student's home (when it runs), remove everything
        of the instance from the engine, keep its record (``expired``) and lease, so the
        next start of the same instance brings the home back."""
        record = self.get(ident)
        with hold(self._lock(ident), lambda pid: InstanceBusyError(ident, pid)):
            kept = ""
            if record.status == "running":
                try:
                    kept = self._keep_home(record)
                except LabctlError as exc:  # too large, or the workstation is broken
                    kept = f"; home NOT kept: {exc.one_line()}"
            report = self.backend.down(ident, progress)
            self.store.update(ident, status=EXPIRED_STATUS, ports={})
            self.leases.set_state(ident, EXPIRED)
        self._lease_event(ident, f"removed at the end of its lifetime{kept}")
        return report

    def resume(
        self, loaded: LoadedLab, ident: str, progress: Progress = no_progress
    ) -> InstanceRecord:
        """Start a stopped instance again (its home back in place), or make an expired one
        anew (same student, seed, password; the home back). An ended lifetime is renewed:
        starting again is asking for more time."""
        record = self.get(ident)
        lease = self.leases.get(ident)
        if record.status == EXPIRED_STATUS:
            self.store.delete(ident)
            try:
                started = self.up(
                    loaded,
                    record.student,
                    record.seed,
                    progress,
                    slot=record.slot,
                    ident=ident,
                    password=record.access.get("password"),
                    lifetime=lease.lifetime if lease else 0,
                    idle=lease.idle if lease else 0,
                )
            except BaseException:  # still expired, its password and home kept for a retry
                if self.store.get(ident) is None:
                    self.store.reserve(record)
                raise
            self._lease_event(ident, "made anew after its lifetime ended")
            return started
        if record.status != STOPPED:
            raise InputError(
                f"instance {ident} is {record.status}: only a stopped one starts again"
            )
        with hold(self._lock(ident), lambda pid: InstanceBusyError(ident, pid)):
            self.homes.restore(self.backend, ident)
            hosts = self.backend.start(ident, progress)
            self.store.update(ident, status="running", ports=ports_of(hosts))
            self.leases.set_state(ident, LIVE)
        if lease is not None and lease.expired(utcnow()):
            self.leases.renew(ident, lease.lifetime)
        self._lease_event(ident, "started again")
        return self.get(ident)

    def _keep_home(self, record: InstanceRecord) -> str:
        """The workstation's home kept in the state file (a lab without a workstation has
        none); what to add to the event."""
        if ATTACKER not in self.backend_hosts(record.id):
            return ""
        saved = self.homes.save(self.backend, record.id)
        return f"; home kept: {saved.files} file(s), {saved.bytes} octet(s) compressed"

    def backend_hosts(self, ident: str) -> set[str]:
        return {h.host for h in self.backend.status(ident)}

    def _lease_event(self, ident: str, summary: str) -> None:
        self._remember(ident, InjectLog(LEASE_EVENT, "labctl", summary, True))

    def opened_phases(self, ident: str) -> list[str]:
        """The phases opened on the instance, in the order they opened."""
        return [
            e.summary.split()[1]
            for e in self.store.events(ident)
            if e.kind == PHASE_EVENT and len(e.summary.split()) > 1
        ]

    def open_phase(
        self, loaded: LoadedLab, ident: str, phase: str, progress: Progress = no_progress
    ) -> bool:
        """Apply ``phase``'s injects to the running instance; False when it was open.

        Hosts whose files changed restart (the workstation does not: what the phase left
        in its home seed is copied into the student's home, and nothing there reads a
        configuration), then the injects that need a running host. Recorded as an event,
        so the briefing and every later check know the phase is open."""
        if loaded.spec.phase(phase) is None:
            known = ", ".join(p.id for p in loaded.spec.phases) or "none"
            raise NotFoundError("phase", phase, hint=f"the lab's phases: {known}")
        record = self.get(ident)
        with hold(self._lock(record.id), lambda pid: InstanceBusyError(record.id, pid)):
            if phase in self.opened_phases(ident):
                return False
            if record.status != "running":
                raise InputError(
                    f"instance {ident} is {record.status}: a phase opens on a running instance"
                )
            ctx, injects = self._scenario(loaded, record), phase_injects(loaded.spec, phase)
            progress(ident, f"opening phase {phase}")
            changed: list[str] = []

            def remember(log: InjectLog) -> None:
                if log.changed:
                    changed.append(log.host)
                self._remember(ident, log)

            apply_file_injects(ctx, injects, remember)
            for host in dict.fromkeys(changed):
                if host == ATTACKER:
                    self._refresh_home(ident)
                else:
                    progress(ident, f"restarting {host}")
                    self.backend.restart(ident, host)
            apply_live_injects(ctx, injects, remember)
            self._remember(
                ident, InjectLog(PHASE_EVENT, "labctl", f"{PHASE_EVENT} {phase} opened", True)
            )
        return True

    def _refresh_home(self, ident: str) -> None:
        """Copy the files the workstation's home seed gained into the student's home
        (never over a file the student has)."""
        script = (
            f"cp -an {HOME_SEED_DIR}/. {STUDENT_HOME}/ && "
            f"chown -R student:student {STUDENT_HOME} && chmod 0755 {STUDENT_HOME}"
        )
        result = self.backend.exec(ident, ATTACKER, ["sh", "-c", script])
        if result.exit_code != 0:
            raise LabctlError(f"copying the new files into the student's home: {result.output}")

    def _remember(self, ident: str, log: InjectLog) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.store.add_event(Event(ident, now, log.kind, log.host, log.summary, log.changed))

    def get(self, ident: str) -> InstanceRecord:
        record = self.store.get(ident)
        if record is None:
            raise NotFoundError("instance", ident, hint=_known(self.store))
        return record

    def current(self, ident: str) -> InstanceRecord:
        """The record with the ports the engine publishes now, stored when they changed.

        A restarted engine (dockerd, the machine) starts the containers again and gives
        them new ports, in whatever order they come up: the recorded ones may then lead
        to another instance's mission control. Grading and `session start` go by this."""
        record = self.get(ident)
        fresh = with_live_ports(record, self.backend.status(ident))
        if fresh.ports != record.ports and record.status == "running":
            self.store.update(ident, status=record.status, ports=fresh.ports)
        return fresh

    def down(self, ident: str, progress: Progress = no_progress) -> DownReport:
        """Remove everything of ``ident`` from the engine, then its record."""
        non_blank(ident, "instance id", "an instance id (see labctl status)")
        self.store.check_writable()
        report = self.backend.down(ident, progress)
        recorded = self.store.delete(ident)
        self.leases.forget(ident)
        self.homes.forget(ident)
        if not recorded and not report.anything:
            raise NotFoundError("instance", ident, hint=_known(self.store))
        return report

    def down_all(self, progress: Progress = no_progress) -> dict[str, DownReport]:
        """Remove every *recorded* instance. The engine may be shared (other users, other
        state files, test runs): leftovers not recorded here are shown by ``status`` and
        removed only by name."""
        self.store.check_writable()
        return {record.id: self.down(record.id, progress) for record in self.store.all()}

    def ids(self) -> list[str]:
        """Recorded instances and anything left on the engine (e.g. after a crash)."""
        return sorted({r.id for r in self.store.all()} | set(self.backend.instances()))

    def status(self, ident: str | None = None) -> list[InstanceView]:
        idents = [self.get(ident).id] if ident is not None else self.ids()
        views = []
        for i in idents:
            record = self.store.get(i)
            hosts = self.backend.status(i)
            state, why = self._state(i, record)
            moved = record is not None and with_live_ports(record, hosts) is not record
            if state == "running" and moved:
                why = PORTS_MOVED
            views.append(InstanceView(i, record, hosts, state, why))
        return views

    def _state(self, ident: str, record: InstanceRecord | None) -> tuple[str, str]:
        """(state, explanation) of an instance, as :class:`InstanceView` has them."""
        if record is None:  # another state file's (the engine may be shared), or lost
            return "not recorded", ""
        if record.status == FAILED:
            return FAILED, kept_explanation(ident, "failed to come up and was kept")
        if record.status == STOPPED:
            return STOPPED, f"stopped for idleness; `labctl resume {ident}` starts it again"
        if record.status == EXPIRED_STATUS:
            return EXPIRED_STATUS, (
                f"removed at the end of its lifetime; `labctl resume {ident}` makes it anew"
                " (the student's home kept)"
            )
        if record.status != "starting":
            return record.status, ""
        if record.slot is not None:
            repair = (
                "`labctl session start` (same roster) finishes it, "
                f"or `labctl down {ident}` removes it"
            )
        else:
            repair = (
                f"re-run `labctl up {record.lab} --student {record.student}` to finish it, "
                f"or `labctl down {ident}` to remove it"
            )
        return starting_state(holder(self._lock(ident)), repair)


def new_record(
    loaded: LoadedLab,
    student: str,
    seed: int | None,
    backend: str,
    *,
    slot: int | None = None,
    ident: str | None = None,
    password: str | None = None,
) -> InstanceRecord:
    """The record of a new instance (``starting``): its id, seed and the student's access.
    A seed is drawn when none is given, a password when none is kept from before."""
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise InputError(f"seed {seed} is out of range; give a whole number from 0 to {SEED_MAX}")
    return InstanceRecord(
        id=ident or instance_id(loaded.id, student),
        lab=loaded.id,
        student=student,
        seed=secrets.randbelow(SEED_LIMIT) if seed is None else seed,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        status="starting",
        backend=backend,
        access={"user": "student", "password": password or secrets.token_urlsafe(12)},
        slot=slot,
    )


def instance_plan(loaded: LoadedLab, record: InstanceRecord) -> InstancePlan:
    """What ``up`` hands the backend for ``record``: the lab's plan with the instance's own
    secrets (the student's password and the workstation's SSH host key in its environment,
    fresh SDLS keys as files). Every engine renders this one plan, so what a Kubernetes
    manifest carries is what a Docker instance gets."""
    return plan_instance(
        loaded,
        record.id,
        student=record.student,
        seed=record.seed,
        environment={
            ATTACKER: {PASSWORD_ENV: record.access["password"], HOST_KEY_ENV: ssh_host_key()}
        },
        files=initial_files(host_roles(loaded)),
    )


def variables_of(loaded: LoadedLab, record: InstanceRecord) -> dict[str, Any]:
    """What the instance's templates and check arguments may name (params, student,
    instance), derived again from the record: nothing secret is stored."""
    params = parameters(loaded.spec, record.student, record.seed, record.slot)
    return template_variables(params.values, record.student, record.id, loaded.id)


MISSION_CONTROL_PORT: Final = f"{wiring.MISSION_CONTROL_PORT}/tcp"
#: Said when the engine publishes other ports than the recorded ones: an engine restart
#: (dockerd, the machine) started the hosts again on new ports.
PORTS_MOVED: Final = (
    "its hosts were restarted (by the engine?) and publish new ports: "
    "the ports `labctl up` printed no longer lead there; `labctl status` shows the new ones"
)


def mission_control_url(record: InstanceRecord) -> str:
    """Mission control's address as seen from this machine (the gateway's published port)."""
    ports = [p[MISSION_CONTROL_PORT] for p in record.ports.values() if MISSION_CONTROL_PORT in p]
    if not ports:
        raise NotFoundError("port", MISSION_CONTROL_PORT, hint=f"{record.id} publishes none")
    return f"http://127.0.0.1:{ports[0]}"


def ports_of(hosts: list[HostStatus]) -> Ports:
    return {h.host: dict(h.ports) for h in hosts if h.ports}


def with_live_ports(record: InstanceRecord, hosts: list[HostStatus]) -> InstanceRecord:
    """``record`` with the ports ``hosts`` (the engine's status) publish now; unchanged
    when nothing is published (the gateway is not running: no port is right then)."""
    live = ports_of(hosts)
    return replace(record, ports=live) if live and live != record.ports else record


def _known(store: InstanceStore) -> str:
    names = [r.id for r in store.all()]
    return f"known instances: {', '.join(names)}" if names else "no instance is running"


def connection_lines(record: InstanceRecord) -> Mapping[str, str]:
    """How a student reaches the instance: SSH to the attacker, mission control's URL."""
    lines = {}
    for host, ports in record.ports.items():
        if "22/tcp" in ports:
            lines[f"{host} (ssh)"] = f"ssh -p {ports['22/tcp']} student@127.0.0.1"
        if "8080/tcp" in ports:
            lines[f"{host} (web)"] = f"http://127.0.0.1:{ports['8080/tcp']}/"
    return lines
