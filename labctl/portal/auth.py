"""Who is logged in: argon2 password hashes, signed session cookies, CSRF tokens, login
rate limits, and the one way from a request to the student's own instance.

The session cookie is ``itsdangerous``-signed JSON (login, kind, CSRF token, issue time):
HttpOnly, SameSite=Lax, Secure under TLS, valid for ``SESSION_SECONDS``. Every form that
changes something carries the CSRF token of the session; a request without the right one
is refused (403). Logins are limited per account and per address (``RateLimit``).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection

from labctl.portal.access import StudentTarget
from labctl.portal.store import INSTRUCTOR, STUDENT

COOKIE: Final = "labctl_portal"
SESSION_SECONDS: Final = 12 * 3600
#: Failed logins allowed per account and per address within ``LOGIN_WINDOW_S``.
LOGIN_ATTEMPTS: Final = 8
LOGIN_WINDOW_S: Final = 300.0
_HASHER: Final = PasswordHasher()

Resolver = Callable[[HTTPConnection], Awaitable[StudentTarget]]


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Identity:
    """A logged-in user: a student (``session``/``student`` set) or an instructor."""

    login: str
    kind: str
    csrf: str
    session: str = ""
    student: str = ""

    @property
    def instructor(self) -> bool:
        return self.kind == INSTRUCTOR


class Cookies:
    """Signs and reads the session cookie."""

    def __init__(self, secret: str) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="labctl-portal-session")

    def issue(self, identity: Identity) -> str:
        return self.serializer.dumps(
            {
                "l": identity.login,
                "k": identity.kind,
                "c": identity.csrf,
                "s": identity.session,
                "u": identity.student,
            }
        )

    def read(self, value: str | None) -> Identity | None:
        if not value or len(value) > 4096:
            return None
        try:
            data: Any = self.serializer.loads(value, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("k") not in {STUDENT, INSTRUCTOR}:
            return None
        try:
            return Identity(
                str(data["l"]), str(data["k"]), str(data["c"]), str(data["s"]), str(data["u"])
            )
        except KeyError:
            return None


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(identity: Identity, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(identity.csrf, str(token))


@dataclass
class RateLimit:
    """Failed attempts per key (an account, an address) within a sliding window."""

    attempts: int = LOGIN_ATTEMPTS
    window: float = LOGIN_WINDOW_S
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, *keys: str) -> bool:
        cutoff = self.clock() - self.window
        for key in keys:
            failures = self._failures.get(key)
            while failures and failures[0] < cutoff:
                failures.popleft()
            if failures is not None and len(failures) >= self.attempts:
                return True
        return False

    def failed(self, *keys: str) -> None:
        if len(self._failures) > 100_000:  # a flood of made-up names must not eat memory
            self._failures.clear()
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.attempts * 2)).append(self.clock())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


def require_student(identity: Identity | None) -> Identity:
    if identity is None:
        raise HTTPException(401, "log in first")
    if identity.kind != STUDENT:
        raise HTTPException(403, "this page is for students")
    return identity


def require_instructor(identity: Identity | None) -> Identity:
    if identity is None:
        raise HTTPException(401, "log in first")
    if identity.kind != INSTRUCTOR:
        raise HTTPException(403, "this page is for instructors")
    return identity
