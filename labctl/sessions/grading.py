"""A session's members as class grading sees them (:mod:`graders.live.classgrade`)."""

from __future__ import annotations

from graders.live.classgrade import ClassMember
from graders.live.target import GradeTarget
from labctl.errors import LabctlError
from labctl.sessions.manager import Sessions
from labctl.sessions.members import Member
from labctl.spec import LoadedLab


def class_member(sessions: Sessions, member: Member, loaded: LoadedLab) -> ClassMember:
    """The member as class grading sees it; without a running instance, absent (the
    report is still searched for copied secrets, and theirs in the others')."""
    absent = ""
    try:
        target = sessions.target(member, loaded)
    except LabctlError:
        target = GradeTarget(member.instance, member.unit, member.seed, "", {})
        why = f": {member.error}" if member.error else ""
        absent = f"no running instance ({member.status}{why})"
    return ClassMember(
        member.student,
        target,
        member.name,
        member.email,
        member.team,
        member.slot,
        absent=absent,
    )


def class_members(sessions: Sessions, name: str, loaded: LoadedLab) -> list[ClassMember]:
    return [class_member(sessions, m, loaded) for m in sessions.members(name)]
