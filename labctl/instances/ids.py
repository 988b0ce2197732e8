"""Instance ids: ``<lab>-<student>``, safe as Docker object names and host names."""

from __future__ import annotations

import re
from typing import Final

from labctl.errors import InputError

#: Docker names allow more, but network and volume names derive from the id too.
MAX_ID_LENGTH: Final = 48
_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")
_ID: Final = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def slug(text: str) -> str:
    """Lower case, runs of anything but a-z and 0-9 folded to one hyphen, trimmed."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def instance_id(lab: str, student: str) -> str:
    """The id of ``student``'s instance of ``lab``, e.g. ``tc-replay-ana-lima``."""
    who = slug(non_blank(student, "student name", "a name such as ana-lima"))
    if not who:
        raise InputError(
            f"student name {student!r} has no letter or digit to make an id from; "
            "give a name such as ana-lima"
        )
    ident = f"{slug(lab)}-{who}"
    if len(ident) > MAX_ID_LENGTH:
        shown = ident if len(ident) <= 2 * MAX_ID_LENGTH else f"{ident[:MAX_ID_LENGTH]}…"
        raise InputError(
            f"instance id {shown!r} is longer than {MAX_ID_LENGTH} characters; "
            "use a shorter student name"
        )
    return ident


def is_instance_id(text: str) -> bool:
    return len(text) <= MAX_ID_LENGTH and _ID.match(text) is not None


def non_blank(value: str, what: str, give: str) -> str:
    """``value`` unchanged, or InputError saying that ``what`` is empty and to ``give``
    something instead: an empty name never stands for a default or for everything."""
    if not value.strip():
        raise InputError(f"{what} is empty; give {give}")
    return value
