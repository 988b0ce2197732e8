"""A student's handout sheet: how to connect, in Markdown (which renders HTML).

Names come from the roster, written by whoever made the CSV: every roster value is
written as text (:func:`markdown_text`), so ``<script>``, links, emphasis, backticks and
table pipes in a name stay the characters they are. Values labctl makes itself (the
session name, instance id, commands, the generated password) are code spans.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Final

from labctl.instances import InstanceRecord, connection_lines

if TYPE_CHECKING:
    from labctl.sessions.manager import Member
    from labctl.sessions.store import SessionRecord

#: ASCII punctuation Markdown may act on (CommonMark lets every one be backslash-escaped);
#: & < > are written as HTML entities instead, so no raw HTML survives.
_MARKDOWN: Final = re.compile(r"([\\`*_{}\[\]()#+\-.!|~^=:$'\"])")


def markdown_text(value: str) -> str:
    """``value`` as literal text in Markdown, in a paragraph, a heading or a table cell."""
    return html.escape(_MARKDOWN.sub(r"\\\1", value), quote=False)


def sheet(session: SessionRecord, member: Member, record: InstanceRecord) -> str:
    """The sheet's Markdown, up to the rule before the lab's briefing."""
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
    for what, how in connection_lines(record).items():
        lines.append(f"| {what} | `{how}` |")
    if record.access.get("password"):
        lines.append(
            f"| password of `{record.access.get('user', 'student')}` |"
            f" `{record.access['password']}` |"
        )
    lines += ["", "---", "", ""]
    return "\n".join(lines)
