"""Class sessions: a roster of students, one isolated instance each, run as one class.

See :mod:`labctl.sessions.manager` for the API the ``labctl session`` commands use.
"""

from labctl.sessions.manager import Sessions
from labctl.sessions.members import Member, MemberStatus, StartReport, StopReport
from labctl.sessions.roster import Roster, RosterError, Student, parse_roster, read_roster
from labctl.sessions.store import SessionBusyError, SessionRecord

__all__ = [
    "Member",
    "MemberStatus",
    "Roster",
    "RosterError",
    "SessionBusyError",
    "SessionRecord",
    "Sessions",
    "StartReport",
    "StopReport",
    "Student",
    "parse_roster",
    "read_roster",
]
