"""Per-student parameter values, derived deterministically from (lab, student, seed).

The same inputs always give the same values, so a regrade reproduces every secret and
nothing secret needs to be stored: keep the seed, derive the rest. Different students
get independent values: each value comes from HMAC-SHA256 keyed with the session seed
over the lab id, the student id and the parameter name (a counter extends the stream
when more octets are needed).

Weak passwords come from a short word list by design, so two students of one class
could draw the same one. A class session passes each student's roster ``slot``
(0, 1, 2, …): the word is then the slot-th entry of a seeded permutation of the list,
and no two students share a password while the class is smaller than the list.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from labctl.errors import LabctlError
from labctl.spec.models import (
    ChoiceParam,
    FlagParam,
    HexKeyParam,
    IntRangeParam,
    Lab,
    Parameter,
    PasswordParam,
)

WORDLIST_DIR: Final = Path(__file__).resolve().parent.parent / "data" / "wordlists"
PASSWORD_ALPHABET: Final = string.ascii_letters + string.digits
ParamValue = str | int


@dataclass(frozen=True)
class ParameterValues:
    """The values of one student's parameters, and which of them are secret."""

    values: Mapping[str, ParamValue]
    secret: frozenset[str]

    def public(self) -> dict[str, ParamValue]:
        """The values a student may see (briefings)."""
        return {k: v for k, v in self.values.items() if k not in self.secret}

    def secrets(self) -> dict[str, str]:
        """Secret values as text: what report evidence is searched for."""
        return {k: str(v) for k, v in self.values.items() if k in self.secret}


def new_seed() -> str:
    """A fresh random session seed (64 hex digits)."""
    return secrets.token_hex(32)


def derive(lab: Lab, student: str, seed: str, slot: int | None = None) -> ParameterValues:
    """Every parameter of ``lab`` for ``student`` under ``seed``."""
    if not seed:
        raise LabctlError("a seed is needed to derive parameters")
    deriver = _Deriver(seed, lab.id, student, slot)
    values = {name: deriver.value(name, param) for name, param in lab.parameters.items()}
    hidden = frozenset(name for name, param in lab.parameters.items() if param.secret)
    return ParameterValues(values, hidden)


class _Stream:
    """Deterministic octets: HMAC-SHA256(seed, lab | student | name | counter)."""

    def __init__(self, seed: str, *labels: str) -> None:
        self._key = seed.encode()
        self._label = "\0".join(labels).encode()
        self._counter = 0

    def octets(self, count: int) -> bytes:
        out = b""
        while len(out) < count:
            block = self._label + b"\0" + self._counter.to_bytes(4, "big")
            out += hmac.new(self._key, block, hashlib.sha256).digest()
            self._counter += 1
        return out[:count]

    def below(self, bound: int) -> int:
        """A uniform integer in ``[0, bound)``, by rejection sampling."""
        if bound <= 0:
            raise ValueError("bound must be positive")
        size = (bound.bit_length() + 7) // 8 + 1
        limit = (256**size // bound) * bound
        while True:
            candidate = int.from_bytes(self.octets(size), "big")
            if candidate < limit:
                return candidate % bound


@dataclass(frozen=True)
class _Deriver:
    seed: str
    lab_id: str
    student: str
    slot: int | None

    def value(self, name: str, param: Parameter) -> ParamValue:
        stream = _Stream(self.seed, self.lab_id, self.student, name)
        if isinstance(param, HexKeyParam):
            return stream.octets(param.bytes).hex()
        if isinstance(param, FlagParam):
            digits = stream.octets(param.hex_digits // 2 + 1).hex()[: param.hex_digits]
            return f"{param.prefix}{{{digits}}}"
        if isinstance(param, IntRangeParam):
            return param.min + stream.below(param.max - param.min + 1)
        if isinstance(param, ChoiceParam):
            return param.options[stream.below(len(param.options))]
        return self._password(name, param, stream)

    def _password(self, name: str, param: PasswordParam, stream: _Stream) -> str:
        if param.wordlist is None:
            alphabet = PASSWORD_ALPHABET
            return "".join(alphabet[stream.below(len(alphabet))] for _ in range(param.length))
        words = wordlist(param.wordlist)
        if self.slot is None:
            return words[stream.below(len(words))]
        order = _permutation(len(words), _Stream(self.seed, self.lab_id, "*slots*", name))
        return words[order[self.slot % len(words)]]


def _permutation(size: int, stream: _Stream) -> list[int]:
    """Fisher-Yates shuffle of ``range(size)`` driven by ``stream``."""
    order = list(range(size))
    for i in range(size - 1, 0, -1):
        j = stream.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


@cache
def wordlist(name: str) -> tuple[str, ...]:
    """The words of a shipped word list (comments and blank lines dropped)."""
    path = WORDLIST_DIR / f"{name}.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LabctlError(f"word list {name!r} cannot be read: {exc.strerror or exc}") from None
    return tuple(_words(lines))


def _words(lines: list[str]) -> Iterator[str]:
    for line in lines:
        word = line.strip()
        if word and not word.startswith("#"):
            yield word


#: Mission control's grading accounts, per role a check may act as: every instance gets
#: them at ``up``, so what graders send shows in mission control as theirs.
GRADER_ACCOUNTS: Final = {"operator": "grader", "flight-director": "grader-fd"}


def grader_password(seed: int | str, instance_id: str, role: str) -> str:
    """The password of ``role``'s grading account of one instance, derived from its seed
    (nothing stored, never shown to students; only its hash reaches mission control)."""
    block = f"labctl-grader\0{instance_id}\0{role}".encode()
    return hmac.new(str(seed).encode(), block, hashlib.sha256).hexdigest()[:24]
