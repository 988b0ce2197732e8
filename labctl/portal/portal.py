"""What the portal serves, over the core: the served sessions, their students' accounts,
and the operations the pages call (each one the core's, run in a worker thread).

:class:`Portal` is the portal's whole state besides its SQLite tables; the web app
(:mod:`labctl.portal.app`) holds one. Every rule of what a student may see or do is here
or in the core, never in a page.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncssh

from graders.live.classgrade import student_folder
from graders.quiz import QuizResult, score_quiz
from graders.report import parse_report, render_template
from graders.report.parse import MAX_REPORT_BYTES
from labctl.core.api import Core
from labctl.core.instances import CheckOutcome
from labctl.errors import LabctlError, NotFoundError
from labctl.instances.leases import TOUCH_EVERY_S, summary
from labctl.instances.lifecycle import EXPIRED_STATUS, STOPPED
from labctl.portal.access import StudentTarget, Unreachable, target_of
from labctl.portal.auth import hash_password, verify_password
from labctl.portal.store import INSTRUCTOR, STUDENT, Account, PortalStore, now
from labctl.scenario import render_briefing
from labctl.sessions.members import Member
from labctl.sessions.reaper import holding
from labctl.sessions.store import QUEUED
from labctl.spec import LoadedLab
from labctl.spec.models import Objective

#: How often a student may run the self-check, and reset their instance.
CHECK_COOLDOWN_S: Final = 30.0
RESET_COOLDOWN_S: Final = 600.0
#: SSH public keys a student may register for the entry point.
MAX_KEYS: Final = 5
#: How long a student's instance address is reused before the engine is asked again.
TARGET_TTL_S: Final = 10.0
#: Largest report upload accepted (the report parser reads no more).
MAX_UPLOAD: Final = MAX_REPORT_BYTES
#: How often ``labctl serve`` runs the lease keeper (``labctl gc``), in seconds.
GC_EVERY_S: Final = 60.0
#: A student starts a stopped instance again at most this often.
RESUME_COOLDOWN_S: Final = 60.0


@dataclass(frozen=True)
class LeaseView:
    """What the student's lab page says of the instance's lease."""

    #: running, stopped, expired, queued, starting, pending, failed
    state: str
    #: "ends in 3 h 10 min (18:40 UTC); stops after 1 h 00 min idle" ("" without a lease)
    summary: str
    renewable: bool
    #: queued: how many units of the class are ahead (None otherwise)
    ahead: int | None = None


class PortalError(LabctlError):
    """Something a portal user asked for that cannot be done: the message says why."""


@dataclass(frozen=True)
class StudentView:
    session: str
    member: Member
    lab: LoadedLab


@dataclass
class Cooldowns:
    """The last time each student did a rate-limited thing."""

    last: dict[tuple[str, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: tuple[str, str], seconds: float, now: float | None = None) -> float:
        """0 when allowed now (and recorded), else the seconds left to wait."""
        moment = time.monotonic() if now is None else now
        with self.lock:
            left = self.last.get(key, -1e18) + seconds - moment
            if left > 0:
                return left
            self.last[key] = moment
            return 0.0


class Portal:
    """The served sessions of one ``labctl serve``."""

    def __init__(
        self,
        core: Core,
        sessions: list[str],
        *,
        grades_dir: Path,
        quiz_attempts: int = 1,
        secret: str | None = None,
    ) -> None:
        self.core = core
        self.sessions = sessions
        self.store = PortalStore(core.store)
        self.grades_dir = grades_dir
        self.quiz_attempts = quiz_attempts
        self.secret = secret or secrets.token_urlsafe(32)
        self.cooldowns = Cooldowns()
        self.grading: dict[str, str] = {}  # session → progress line while grading
        #: Loaded once per session: a lab is validated when loaded, which takes a while.
        self._labs: dict[str, LoadedLab] = {}
        #: (session, student) → (when, target): the engine is asked at most every
        #: TARGET_TTL_S per student, not for every proxied request.
        self._targets: dict[tuple[str, str], tuple[float, StudentTarget]] = {}
        #: (instance, seed, open phases) → the briefing: it changes only with them.
        self._briefings: dict[tuple[str, int, tuple[str, ...]], str] = {}
        #: instance → when its student last typed in the web terminal (UTC, ISO)
        self.typed: dict[str, str] = {}
        #: session → the board's line on the last observation of the class.
        self.observed: dict[str, str] = {}
        #: instance → when (monotonic) its activity was last written: at most once a
        #: TOUCH_EVERY_S, however fast the student types.
        self._touched: dict[str, float] = {}
        #: The lease keeper's last line, for the board.
        self.collected = ""
        self._stop = threading.Event()

    # --- accounts --------------------------------------------------------------------

    def sync_accounts(self) -> int:
        """Make (or refresh) a login for every student of the served sessions: the roster
        id, with the password on their handout, stored as an argon2 hash. Returns how
        many were made or changed."""
        changed = 0
        for session in self.sessions:
            for member in self.core.sessions.members(session):
                record = self.core.store.get(member.instance)
                password = record.access.get("password", "") if record else ""
                if not password:
                    continue
                known = self.store.account(member.student)
                if (
                    known is not None
                    and known.kind == STUDENT
                    and known.session == session
                    and verify_password(known.password_hash, password)
                ):
                    continue
                if known is not None and known.kind == INSTRUCTOR:
                    raise PortalError(
                        f"roster id {member.student!r} of session {session} is also an"
                        " instructor's login: rename the instructor"
                    )
                account = Account(
                    member.student, STUDENT, session, member.student, hash_password(password)
                )
                self.store.put_account(account)
                changed += 1
        return changed

    def add_instructor(self, login: str, password: str) -> None:
        if len(password) < 10:
            raise PortalError("an instructor's password needs at least 10 characters")
        known = self.store.account(login)
        if known is not None and known.kind == STUDENT:
            raise PortalError(f"{login!r} is a student's login: choose another name")
        self.store.put_account(Account(login, INSTRUCTOR, "", "", hash_password(password)))
        self.store.audit("labctl", "add-instructor", login=login)

    def authenticate(self, login: str, password: str) -> Account | None:
        account = self.store.account(login)
        if account is None:
            verify_password(_DUMMY_HASH, password)  # the same time for unknown logins
            return None
        if account.kind == STUDENT and account.session not in self.sessions:
            return None
        return account if verify_password(account.password_hash, password) else None

    def ssh_target(self, login: str, password: str) -> StudentTarget | None:
        """The workstation a student's SSH login through the entry point leads to; None
        for a wrong password, an instructor, or an instance that cannot be reached."""
        account = self.authenticate(login, password)
        if account is None or account.kind != STUDENT:
            return None
        try:
            target = self.target(account.session, account.student)
        except LabctlError:
            return None
        self.store.audit(account.login, "ssh-login")
        return target

    def terminal_activity(self, target: StudentTarget) -> None:
        self.typed[target.instance] = now()
        self.active(target.instance)

    def active(self, instance: str) -> None:
        """The student did something through the portal: their instance is not idle
        (written at most once a TOUCH_EVERY_S per instance)."""
        moment = time.monotonic()
        if moment - self._touched.get(instance, -1e18) < TOUCH_EVERY_S:
            return
        self._touched[instance] = moment
        with suppress(LabctlError):  # a read-only state file must not break a page
            self.core.instances.touch(instance)

    def add_key(self, login: str, text: str) -> str:
        """Register a student's SSH public key (one OpenSSH line) for the entry point; its
        SHA-256 fingerprint. At most ``MAX_KEYS`` keys per student."""
        line = text.strip()
        if not line or "\n" in line or len(line) > 16 * 1024:
            raise PortalError("paste one public key line (ssh-ed25519 AAAA… or ssh-rsa AAAA…)")
        try:
            key = asyncssh.import_public_key(line)
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise PortalError(f"not an OpenSSH public key: {exc}") from None
        if len(self.store.keys(login)) >= MAX_KEYS:
            raise PortalError(f"at most {MAX_KEYS} keys: remove one first")
        fingerprint = str(key.get_fingerprint("sha256"))
        self.store.add_key(login, fingerprint, key.export_public_key("openssh").decode().strip())
        self.store.audit(login, "ssh-key-added", fingerprint=fingerprint)
        return fingerprint

    def ssh_target_by_key(self, login: str, key: asyncssh.SSHKey) -> StudentTarget | None:
        """The workstation a student's key login leads to (the key must be theirs)."""
        account = self.store.account(login)
        if account is None or account.kind != STUDENT or account.session not in self.sessions:
            return None
        fingerprint = str(key.get_fingerprint("sha256"))
        if fingerprint not in {f for f, _, _ in self.store.keys(login)}:
            return None
        try:
            target = self.target(account.session, account.student)
        except LabctlError:
            return None
        self.store.audit(login, "ssh-login", key=fingerprint)
        return target

    # --- one student -----------------------------------------------------------------

    def lab(self, session: str) -> LoadedLab:
        if session not in self._labs:
            self._labs[session] = self.core.sessions.lab(session)
        return self._labs[session]

    def student(self, session: str, student: str) -> StudentView:
        if session not in self.sessions:
            raise NotFoundError("session", session, hint="not served by this portal")
        member = self.core.sessions.member(session, student)
        return StudentView(session, member, self.lab(session))

    def target(self, session: str, student: str) -> StudentTarget:
        """The student's own instance, as the portal reaches it now (the engine's ports,
        asked at most every ``TARGET_TTL_S``: a restarted engine publishes new ones)."""
        key = (session, student)
        cached = self._targets.get(key)
        if cached is not None and time.monotonic() - cached[0] < TARGET_TTL_S:
            return cached[1]
        view = self.student(session, student)
        try:
            record = self.core.instances.instances.current(view.member.instance)
        except LabctlError as exc:
            raise Unreachable(str(exc)) from exc
        target = target_of(record)
        self._targets[key] = (time.monotonic(), target)
        return target

    def briefing(self, view: StudentView) -> str:
        record = self.core.store.get(view.member.instance)
        if record is None:
            raise NotFoundError("instance", view.member.instance, hint="ask your instructor")
        phases = tuple(self.core.instances.instances.opened_phases(record.id))
        key = (record.id, record.seed, phases)
        if key not in self._briefings:
            if len(self._briefings) > 1000:
                self._briefings.clear()
            self._briefings[key] = render_briefing(
                view.lab, record.student, record.seed, record.id, record.slot, phases=list(phases)
            )
        return self._briefings[key]

    @staticmethod
    def visible_objectives(view: StudentView) -> list[Objective]:
        return [o for o in view.lab.spec.objectives if not o.hidden]

    def check(self, view: StudentView) -> CheckOutcome:
        left = self.cooldowns.take(
            ("check", f"{view.session}/{view.member.student}"), CHECK_COOLDOWN_S
        )
        if left:
            raise PortalError(
                f"the self-check runs at most every {CHECK_COOLDOWN_S:.0f} s:"
                f" try again in {left:.0f} s"
            )
        outcome = self.core.instances.check(view.member.instance)
        holding = [o.id for o in outcome.objectives if o.holds and not o.gated_by]
        self.store.solved(view.session, view.member.student, holding)
        self.store.audit(view.member.student, "self-check", holding=holding)
        return outcome

    # --- observation ------------------------------------------------------------------

    def observe(self, pause: float = 0.0) -> int:
        """One passive observation of every running instance of the served sessions
        (:meth:`labctl.core.instances.InstancesApi.observe`: nothing sent into them);
        objectives seen holding are recorded with the time first seen, ``pause`` seconds
        between two instances (spreading the work). Returns how many instances were
        observed."""
        seen = 0
        for session in self.sessions:
            try:
                members = self.core.sessions.members(session)
                loaded = self.lab(session)
            except LabctlError:
                continue
            for member in members:
                if self._stop.wait(pause):
                    return seen
                try:
                    held = self.core.instances.observe(member.instance, loaded)
                except LabctlError:
                    continue  # gone (being reset, stopped): nothing to observe
                self.store.solved(session, member.student, held)
                seen += 1
            self.observed[session] = f"objectives last observed at {now()[11:19]} UTC"
        return seen

    def start_observing(self, every: float) -> threading.Thread:
        """Observe the class every ``every`` seconds in a background thread until
        :meth:`stop`."""

        def loop() -> None:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    count = sum(len(self.core.sessions.members(s)) for s in self.sessions)
                    # spread over half the period: no burst of engine calls every minute
                    self.observe(pause=min(1.0, every / 2 / max(1, count)))
                except Exception as exc:  # the board keeps its last view; try again later
                    for session in self.sessions:
                        self.observed[session] = f"observation failed: {exc}"[:200]
                self._stop.wait(max(1.0, every - (time.monotonic() - began)))

        thread = threading.Thread(target=loop, name="portal-observe", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def reset(self, view: StudentView, actor: str) -> None:
        _, resets = self.store.switches(view.session)
        if not resets and actor == view.member.student:
            raise PortalError("your instructor has turned resets off for this class")
        if actor == view.member.student:
            left = self.cooldowns.take(
                ("reset", f"{view.session}/{view.member.student}"), RESET_COOLDOWN_S
            )
            if left:
                raise PortalError(
                    f"one reset per {RESET_COOLDOWN_S / 60:.0f} minutes: try"
                    f" again in {left / 60:.0f} min"
                )
        self.store.audit(actor, "reset", session=view.session, student=view.member.student)
        self._replace_in_background(
            view, "reset", lambda: self.core.sessions.reset(view.session, view.member.student)
        )

    def _replace_in_background(
        self, view: StudentView, what: str, work: Callable[[], object]
    ) -> None:
        """``work`` (a reset, a start again) in a thread of its own: the student's address
        is asked again afterwards, and a failure goes to the audit log (``<what>-failed``)."""
        key = (view.session, view.member.student)

        def run() -> None:
            self._targets.pop(key, None)
            try:
                work()
            except LabctlError as exc:
                self.store.audit(
                    "labctl", f"{what}-failed", student=view.member.student, error=str(exc)
                )
            self._targets.pop(key, None)

        threading.Thread(target=run, name=f"{what}-{view.member.student}", daemon=True).start()

    # --- leases -----------------------------------------------------------------------

    def lease(self, view: StudentView) -> LeaseView:
        instance = view.member.instance
        record = self.core.store.get(instance)
        state = view.member.status
        if record is not None and view.member.status == "running":
            state = record.status
        lease = self.core.instances.lease(instance) if record is not None else None
        ahead = None
        if state == QUEUED:
            queued = [m for m in self.core.sessions.members(view.session) if m.status == QUEUED]
            ahead = len({m.instance for m in queued if m.slot < view.member.slot})
        renewable = bool(lease and lease.lifetime and state == "running")
        return LeaseView(state, summary(lease) if state == "running" else "", renewable, ahead)

    def renew(self, view: StudentView, actor: str) -> str:
        """More time for the student's instance; the new summary."""
        try:
            lease = self.core.instances.renew(view.member.instance)
        except LabctlError as exc:
            raise PortalError(str(exc)) from None
        self.store.audit(actor, "renew", session=view.session, student=view.member.student)
        return summary(lease)

    def resume(self, view: StudentView, actor: str) -> str:
        """Start the student's stopped or expired instance again, in the background; on a
        machine at its cap, queue it instead. What to tell the student."""
        if self.lease(view).state not in {STOPPED, EXPIRED_STATUS}:
            raise PortalError("your instance is not stopped: nothing to start")
        left = self.cooldowns.take(
            ("resume", f"{view.session}/{view.member.student}"), RESUME_COOLDOWN_S
        )
        if left:
            raise PortalError(f"it is starting already: look again in {left:.0f} s")
        self.store.audit(actor, "resume", session=view.session, student=view.member.student)
        record = self.core.store.get(view.member.instance)
        refusal = self.core.sessions.caps.refusal(
            holding(self.core.store.all()), record.student if record else view.member.unit
        )
        if refusal:
            self.core.sessions.sessions.queue(view.session, view.member.instance, refusal)
            return (
                "The server is full right now: your lab is queued and starts as soon as there"
                " is room (the lab page shows how many are ahead of you)."
            )
        self._replace_in_background(
            view, "resume", lambda: self.core.instances.resume(view.member.instance)
        )
        return (
            "Your instance is starting again (a few seconds when it was stopped, a minute"
            " when it had ended). The files of your home on the workstation come back with it."
        )

    def collect(self) -> None:
        """One pass of the lease keeper (``labctl gc``), its outcome kept for the board."""
        report = self.core.sessions.gc()
        line = (
            f"lease keeper at {now()[11:19]} UTC: {len(report.expired)} removed (lifetime),"
            f" {len(report.stopped)} stopped (idle), {len(report.started)} started from the"
            f" queue, {report.queued} queued"
        )
        self.collected = line
        if report.anything:
            self.store.audit("labctl", "gc", summary=line)

    def start_collecting(self, every: float = GC_EVERY_S) -> threading.Thread:
        """Run :meth:`collect` every ``every`` seconds in a background thread until
        :meth:`stop`."""

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.collect()
                except Exception as exc:  # try again next time; the board says why
                    self.collected = f"lease keeper failed: {exc}"[:200]

        thread = threading.Thread(target=loop, name="portal-gc", daemon=True)
        thread.start()
        return thread

    # --- report ----------------------------------------------------------------------

    def report_template(self, view: StudentView) -> str:
        return render_template(view.lab.spec)

    def hand_in(self, view: StudentView, filename: str, data: bytes) -> list[str]:
        """Store an upload (the latest is graded); the format problems the parser sees.
        Refused, with nothing stored: an empty or too large file, one that is not UTF-8
        text."""
        if not data.strip():
            raise PortalError("the file is empty: upload your report's Markdown file")
        if len(data) > MAX_UPLOAD:
            raise PortalError(f"the file is over {MAX_UPLOAD // 1024} KiB: a report is text")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise PortalError("the file is not UTF-8 text: upload the Markdown file") from None
        if "\x00" in text:
            raise PortalError("the file holds binary data: upload the Markdown file")
        report = parse_report(data)
        name = Path(filename or "report.md").name[:100] or "report.md"
        upload = self.store.add_upload(view.session, view.member.student, name, data)
        self.store.audit(view.member.student, "hand-in", upload=upload.id, sha256=upload.sha256)
        return list(report.problems)

    # --- quiz ------------------------------------------------------------------------

    def quiz_open(self, view: StudentView) -> bool:
        return (
            view.lab.quiz is not None
            and len(self.store.quiz_attempts(view.session, view.member.student))
            < self.quiz_attempts
        )

    def answer_quiz(self, view: StudentView, answers: dict[str, int]) -> QuizResult:
        if view.lab.quiz is None:
            raise PortalError("this lab has no quiz")
        if not self.quiz_open(view):
            raise PortalError("you have used every attempt at this quiz")
        result = score_quiz(view.lab.quiz, answers)
        attempt = self.store.add_quiz_attempt(
            view.session, view.member.student, answers, result.right, result.asked
        )
        self.store.audit(view.member.student, "quiz", attempt=attempt, right=result.right)
        return result

    def last_quiz(self, view: StudentView) -> QuizResult | None:
        attempts = self.store.quiz_attempts(view.session, view.member.student)
        if not attempts or view.lab.quiz is None:
            return None
        answers = {str(k): int(v) for k, v in attempts[-1]["answers"].items()}
        return score_quiz(view.lab.quiz, answers)

    # --- grades ----------------------------------------------------------------------

    def score_page(self, view: StudentView) -> Path | None:
        """The student's score report, once the instructor released the grades."""
        released, _ = self.store.switches(view.session)
        if not released:
            return None
        return self.score_file(view.session, view.member.student)

    def score_file(self, session: str, student: str) -> Path | None:
        """The student's latest score report (released or not: for instructors)."""
        page = student_folder(self.grades_dir / session, student) / "score.html"
        return page if page.is_file() else None

    def grade(self, session: str, actor: str) -> None:
        """Grade the class in the background (the latest upload of each student)."""
        if session not in self.sessions:
            raise NotFoundError("session", session)
        if self.grading.get(session, "").startswith("grading"):
            raise PortalError(f"{session} is being graded already")
        self.store.audit(actor, "grade", session=session)
        self.grading[session] = "grading: starting"
        threading.Thread(target=self._grade, args=(session,), daemon=True).start()

    def grade_student(self, session: str, student: str, actor: str) -> None:
        """Grade one student again in the background (their latest upload and quiz); the
        class's exports then carry the new score."""
        view = self.student(session, student)
        key = f"{session}/{student}"
        if self.grading.get(key, "").startswith("grading") or self.grading.get(
            session, ""
        ).startswith("grading"):
            raise PortalError(f"{key} is being graded already")
        self.store.audit(actor, "grade", session=session, student=student)
        self.grading[key] = "grading: checking the instance"
        threading.Thread(
            target=self._grade_student, args=(view,), name=f"grade-{student}", daemon=True
        ).start()

    def _grade_student(self, view: StudentView) -> None:
        session, student = view.session, view.member.student
        key = f"{session}/{student}"
        reports = self._write_reports(session, [view.member])
        lab = self.lab(session)
        attempts = self.store.quiz_attempts(session, student)
        quiz = None
        if attempts and lab.quiz is not None:
            answers = {str(k): int(v) for k, v in attempts[-1]["answers"].items()}
            quiz = score_quiz(lab.quiz, answers).summary()
        try:
            outcome = self.core.sessions.grade_student(
                session, student, reports=reports, output=self.grades_dir / session, quiz=quiz
            )
        except LabctlError as exc:
            self.grading[key] = f"failed: {exc}"
            return
        stamp = time.strftime("%H:%M:%S")
        if outcome.score is None:
            self.grading[key] = f"not graded at {stamp}: {'; '.join(outcome.notes)}"
        else:
            got = f"{outcome.score.points:g} / {outcome.score.points_possible} points"
            self.grading[key] = f"graded at {stamp}: {got}"

    def _write_reports(self, session: str, members: list[Member]) -> Path:
        """The members' latest uploads as <student>.md in the session's reports folder."""
        reports = self.grades_dir / session / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        for member in members:
            content = self.store.latest_report(session, member.student)
            path = reports / f"{member.student}.md"
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
        return reports

    def _grade(self, session: str) -> None:
        members = self.core.sessions.members(session)
        reports = self._write_reports(session, members)
        done = 0

        def progress(event: Any) -> None:
            nonlocal done
            if getattr(event, "message", "") == "graded":
                done += 1
                self.grading[session] = f"grading: {done} of {len(members)} graded"

        quizzes = {}
        lab = self.lab(session)
        for member in members:
            attempts = self.store.quiz_attempts(session, member.student)
            if attempts and lab.quiz is not None:
                answers = {str(k): int(v) for k, v in attempts[-1]["answers"].items()}
                quizzes[member.student] = score_quiz(lab.quiz, answers).summary()
        try:
            self.core.sessions.grade(
                session,
                reports=reports,
                output=self.grades_dir / session,
                on_event=progress,
                quizzes=quizzes,
            )
        except LabctlError as exc:
            self.grading[session] = f"failed: {exc}"
            return
        self.grading[session] = f"graded {done} of {len(members)} at {time.strftime('%H:%M:%S')}"

    def export(self, session: str, fmt: str) -> str:
        text, _, _ = self.core.sessions.export(session, self.grades_dir / session, fmt)
        return text


_DUMMY_HASH: Final = hash_password(secrets.token_urlsafe(16))
