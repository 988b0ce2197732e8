"""The report skeleton a student starts from (``labctl report template LAB``).

It names the lab, the hosts a finding may point at, every field with its
allowed values, one example finding (commented out) and the lab's required
prose sections, each with a hint in an HTML comment. It never names the
lab's weaknesses, their CWE or SPARTA ids, vectors or countermeasures: those
are what the student has to find. The skeleton parses as a valid, empty
report (tests hold it to that).
"""

from __future__ import annotations

from typing import Final

from graders.report.model import LEVELS, TREATMENTS
from labctl.spec.models import SPARTA_TACTICS, Lab

#: Hints for sections labs commonly require; other sections get a generic hint.
SECTION_HINTS: Final = {
    "executive summary": "For a manager: what you assessed, the most serious findings, the"
    " overall risk, and what to do first. No jargon.",
    "scope": "What was in scope (hosts, networks, interfaces) and what was not; the dates"
    " and rules of engagement.",
    "method": "How you worked: reconnaissance, the tools and commands you used, how you"
    " confirmed each finding.",
    "methodology": "How you worked: reconnaissance, the tools and commands you used, how you"
    " confirmed each finding.",
    "findings": "Narrate the findings listed in the front matter: what you found, how an"
    " attacker would use it, and the business impact.",
    "recommendations": "The fixes, in order of priority, and how to verify each one.",
    "conclusion": "The residual risk once the recommendations are in place.",
}
GENERIC_HINT: Final = "Write this section in full sentences (at least 30 words)."

_HEADER: Final = """\
---
# Audit report for the labctl lab "{title}" ({lab_id}).
#
# This block is YAML: the structured findings. The Markdown below the closing
# '---' holds the prose sections. 'labctl report grade' reads both.
# Put one entry under 'findings' per weakness you found.
#
# Fields of a finding:
#   component        the host where the weakness lives; one of:
#                    {hosts}
#   title            one line that states the weakness
#   description      what is wrong, how it works and what it lets an attacker do,
#                    in your own words (a title alone earns almost nothing)
#   sparta           SPARTA technique id: TACTIC-NNNN or TACTIC-NNNN.NN,
#                    tactic one of {tactics} (https://sparta.aerospace.org)
#   cwe              CWE id: CWE-NNN (https://cwe.mitre.org)
#   cvss             CVSS v3.1 base vector (https://www.first.org/cvss/calculator/3.1):
#                    CVSS:3.1/AV:[N|A|L|P]/AC:[L|H]/PR:[N|L|H]/UI:[N|R]/S:[U|C]
#                            /C:[N|L|H]/I:[N|L|H]/A:[N|L|H]   (one line, no spaces)
#   evidence         what you observed: commands and their output, log lines,
#                    captured values (flags, keys) from YOUR instance
#   recommendation   how to fix it, in a few sentences
#   countermeasures  SPARTA countermeasure ids: [CMNNNN, ...]
#   risk             likelihood: {levels}
#                    impact: {levels}
#                    treatment: {treatments}
#
# A finding counts in full only with evidence from YOUR instance or a technical
# description (beyond its title); one that only names a weakness earns a quarter
# of a finding and no severity or recommendation credit.
#
# Example (remove '# ' from these lines and replace 'findings: []' by them):
# findings:
#   - component: <host>
#     title: <one line - what is wrong, and where>
#     description: <how it works and what an attacker gains, in a few sentences>
#     sparta: <TACTIC-NNNN.NN>
#     cwe: <CWE-NNN>
#     cvss: <CVSS:3.1/AV:_/AC:_/PR:_/UI:_/S:_/C:_/I:_/A:_>
#     evidence: |
#       $ <the command you ran>
#       <what it printed>
#     recommendation: <the fix, and how to check that it holds>
#     countermeasures: [<CMNNNN>]
#     risk: {{likelihood: <level>, impact: <level>, treatment: <treatment>}}
lab: {lab_id}
student: ""
findings: []
---

# Audit report: {title}

<!-- Write every section below in full sentences; a section counts once it has
     at least 30 words. Text inside these comments is not graded. -->
"""


def render_template(lab: Lab) -> str:
    """The Markdown skeleton of a report for ``lab``."""
    header = _HEADER.format(
        title=_one_line(lab.title),
        lab_id=lab.id,
        hosts=", ".join(sorted(lab.hosts())),
        tactics=", ".join(SPARTA_TACTICS),
        levels="|".join(LEVELS),
        treatments="|".join(TREATMENTS),
    )
    return header + "".join(_section(name) for name in lab.report.required_sections)


def _section(name: str) -> str:
    hint = SECTION_HINTS.get(name.strip().lower(), GENERIC_HINT)
    return f"\n## {_one_line(name)}\n\n<!-- {hint.replace('--', '-')} -->\n"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace('"', "'")
