"""Logins and sessions: password checks, optional lockout, random expiring session tokens.

A session token is 32 random octets (``secrets``); the server keeps only its SHA-256, so
the in-memory table answers lookups without comparing secrets. The same token works as the
UI's HttpOnly cookie and as an API bearer token. Each session has its own CSRF token,
required on every state-changing request that authenticates by cookie.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Final

from labctl.range.hosts.missioncontrol.passwords import burn_time, verify_hash, verify_plaintext
from labctl.range.hosts.missioncontrol.settings import MAX_PASSWORD_LENGTH, Policy, Role, User

MAX_SESSIONS: Final = 1000
MAX_TRACKED_FAILURES: Final = 10_000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass
class Session:
    """One logged-in operator."""

    username: str
    role: Role
    expires_at: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    created_at: float = field(default_factory=time.time)
    #: Messages for the next page view (kind, text), e.g. the result of a form post.
    flash: list[tuple[str, str]] = field(default_factory=list)

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


class SessionStore:
    """Sessions in memory, bounded: the oldest is dropped when the table is full."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}

    def create(self, user: User) -> tuple[str, Session]:
        self._purge()
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        token = secrets.token_urlsafe(32)
        session = Session(user.name, user.role, time.time() + self.lifetime)
        self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        session = self._sessions.get(_digest(token))
        if session is None or session.expired:
            self._sessions.pop(_digest(token), None)
            return None
        return session

    def revoke(self, token: str) -> bool:
        return self._sessions.pop(_digest(token), None) is not None

    def _purge(self) -> None:
        for key in [k for k, s in self._sessions.items() if s.expired]:
            del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)


class LoginRefused(Exception):
    """A login failed; ``reason`` is for the audit log, never for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Authenticator:
    """Checks user names and passwords against the configuration, with optional lockout."""

    def __init__(self, users: dict[str, User], policy: Policy) -> None:
        self._users = users
        self._policy = policy
        self._failures: dict[str, tuple[int, float]] = {}

    def login(self, username: str, password: str) -> User:
        """The user if the password matches; raise LoginRefused otherwise."""
        if len(password) > MAX_PASSWORD_LENGTH:
            raise LoginRefused("password too long")
        user = self._users.get(username)
        if user is None:
            burn_time(password)
            raise LoginRefused("unknown user")
        if self._locked(username):
            raise LoginRefused("account locked after failed logins")
        if not self._password_ok(user, password):
            self._count_failure(username)
            raise LoginRefused("wrong password")
        self._failures.pop(username, None)
        return user

    @staticmethod
    def _password_ok(user: User, password: str) -> bool:
        if user.password_hash is not None:
            return verify_hash(password, user.password_hash)
        return verify_plaintext(password, user.password or "")

    def _locked(self, username: str) -> bool:
        count, since = self._failures.get(username, (0, 0.0))
        attempts = self._policy.lockout_attempts
        if attempts and count >= attempts:
            if time.time() - since < self._policy.lockout_seconds:
                return True
            self._failures.pop(username, None)
        return False

    def _count_failure(self, username: str) -> None:
        if len(self._failures) >= MAX_TRACKED_FAILURES:
            self._failures.clear()
        count, _ = self._failures.get(username, (0, 0.0))
        self._failures[username] = (count + 1, time.time())
