"""A student's handout sheet: how to connect, in Markdown (which renders HTML).

Names come from the roster, written by whoever made the CSV: every roster value is
written as text (:func:`markdown_text`), so ``<script>``, links, emphasis, backticks and
table pipes in a name stay the characters they are. Values labctl makes itself (the
session name, instance id, commands, the generated password) are code spans.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from labctl.errors import LabctlError
from labctl.instances import InstanceRecord, connection_lines
from labctl.instances.ids import slug
from labctl.instances.lifecycle import with_live_ports
from labctl.scenario.briefing import render_briefing
from labctl.sessions.store import RUNNING
from labctl.spec import LoadedLab

if TYPE_CHECKING:
    from labctl.sessions.manager import Sessions
    from labctl.sessions.members import Member
    from labctl.sessions.store import SessionRecord

#: ASCII punctuation Markdown may act on (CommonMark lets every one be backslash-escaped);
#: & < > are written as HTML entities instead, so no raw HTML survives.
_MARKDOWN: Final = re.compile(r"([\\`*_{}\[\]()#+\-.!|~^=:$'\"])")


def markdown_text(value: str) -> str:
    """``value`` as literal text in Markdown, in a paragraph, a heading or a table cell."""
    return html.escape(_MARKDOWN.sub(r"\\\1", value), quote=False)


def sheet(
    session: SessionRecord, member: Member, record: InstanceRecord, portal: str | None = None
) -> str:
    """The sheet's Markdown, up to the rule before the lab's briefing. With ``portal`` (its
    URL), the student's way in is the class portal: its address, their login and password;
    without, the instance's own published ports (a server the student can reach)."""
    who = markdown_text(member.name)
    team = f", team {markdown_text(member.team)}" if member.team else ""
    lines = [
        f"# {who}: lab {markdown_text(session.lab)}",
        "",
        f"Session `{session.name}`, instance `{record.id}`.",
        "",
        "## Connecting",
        "",
        "| what | how |",
        "| --- | --- |",
        f"| student | {who} ({markdown_text(member.student)}){team} |",
    ]
    if portal is not None and record.access.get("password"):
        lines += [
            f"| the class portal | `{portal.replace('`', '')}` |",
            f"| portal login | `{member.student}` |",
            f"| password | `{record.access['password']}` |",
            "",
            "In the portal: your lab and this briefing, a terminal on your workstation,"
            " mission control, the self-check, your report, the quiz and, once released,"
            " your score. The same login and password open your workstation over SSH through"
            " the class's entry point, if your instructor runs one.",
            "",
            "---",
            "",
            "",
        ]
        return "\n".join(lines)
    for what, how in connection_lines(record).items():
        lines.append(f"| {what} | `{how}` |")
    if record.access.get("password"):
        lines.append(
            f"| password of `{record.access.get('user', 'student')}` |"
            f" `{record.access['password']}` |"
        )
    lines += ["", "---", "", ""]
    return "\n".join(lines)


def write_handouts(
    sessions: Sessions, name: str, loaded: LoadedLab, folder: Path, portal: str | None = None
) -> tuple[list[Path], dict[str, str]]:
    """One Markdown file per student (mode 0600: it holds the password): how to
    connect, then the lab's briefing rendered for the student's unit. Returns the
    files written and the students skipped (student → status: no running instance)."""
    session = sessions.get(name)
    members = sessions.members(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabctlError(f"cannot create {folder}: {exc.strerror or exc}") from None
    written, skipped = [], {}
    for member in members:
        record = sessions.instances.store.get(member.instance)
        if record is None or member.status != RUNNING:
            skipped[member.student] = member.status
            continue
        record = with_live_ports(record, sessions.backend.status(member.instance))
        text = sheet(session, member, record, portal) + render_briefing(
            loaded, record.student, record.seed, record.id, record.slot
        )
        path = folder / f"{slug(member.student)}.md"
        try:
            fd = path.open("w", encoding="utf-8")
            path.chmod(0o600)
            with fd:
                fd.write(text)
        except OSError as exc:
            raise LabctlError(f"cannot write {path}: {exc.strerror or exc}") from None
        written.append(path)
    return written, skipped
