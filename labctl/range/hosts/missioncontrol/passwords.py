"""Password hashes for operator accounts: scrypt or PBKDF2 from the standard library.

Stored formats (all fields ASCII, salt and hash in unpadded URL-safe base64):

- ``scrypt$<n>$<r>$<p>$<salt>$<hash>``
- ``pbkdf2_sha256$<iterations>$<salt>$<hash>``

Plaintext passwords are accepted from the configuration too, on purpose: labs inject weak
or default credentials (``admin``/``admin``), and replacing them with a hash is part of the
hardening. Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Final

SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_SIZE: Final = 16
HASH_SIZE: Final = 32
MAX_SCRYPT_N: Final = 2**20
MAX_PBKDF2_ITERATIONS: Final = 5_000_000
#: Used to spend the same time on unknown users as on known ones.
_DUMMY_HASH: Final = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A new scrypt hash string for ``password``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_SIZE)
    digest = _scrypt(password, salt, (SCRYPT_N, SCRYPT_R, SCRYPT_P))
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _scrypt(password: str, salt: bytes, cost: tuple[int, ...], size: int = HASH_SIZE) -> bytes:
    """scrypt with ``cost`` = (n, r, p)."""
    n, r, p = cost
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**28, dklen=size
    )


def check_hash_format(stored: str) -> None:
    """Raise ValueError naming the problem if ``stored`` is not a usable hash string."""
    _parse(stored)


def _parse(stored: str) -> tuple[str, tuple[int, ...], bytes, bytes]:
    parts = stored.strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or not 1 <= r <= 32 or not 1 <= p <= 16:
                raise ValueError("scrypt parameters out of range")
            return "scrypt", (n, r, p), _unb64(parts[4]), _digest(parts[5])
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
                raise ValueError("pbkdf2 iterations out of range")
            return "pbkdf2_sha256", (iterations,), _unb64(parts[2]), _digest(parts[3])
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError(f"bad password hash: {exc}") from None
    raise ValueError(
        "bad password hash: expected scrypt$n$r$p$salt$hash or pbkdf2_sha256$iterations$salt$hash"
    )


def _digest(text: str) -> bytes:
    digest = _unb64(text)
    if not 16 <= len(digest) <= 64:
        raise ValueError(f"hash of {len(digest)} octets, expected 16..64")
    return digest


def verify_hash(password: str, stored: str) -> bool:
    """True when ``password`` matches the hash string (constant-time comparison)."""
    kind, params, salt, expected = _parse(stored)
    if kind == "scrypt":
        digest = _scrypt(password, salt, params, len(expected))
    else:
        raw = password.encode("utf-8")
        digest = hashlib.pbkdf2_hmac("sha256", raw, salt, params[0], len(expected))
    return hmac.compare_digest(digest, expected)


def verify_plaintext(password: str, configured: str) -> bool:
    """Constant-time comparison with a plaintext password from the configuration."""
    return hmac.compare_digest(password.encode("utf-8"), configured.encode("utf-8"))


def burn_time(password: str) -> None:
    """Spend a hash's worth of time, so unknown user names do not answer faster."""
    verify_hash(password, _DUMMY_HASH)
