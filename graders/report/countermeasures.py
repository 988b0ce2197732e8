"""SPARTA countermeasures the shipped labs accept, with words that name them in prose.

Only ids checked against https://sparta.aerospace.org are listed; a lab that
accepts another id still works, the recommendation then has to give the id.
Keywords are regular expressions over lower-cased text, anchored at word
boundaries so that "mac" does not match "machine".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

_CM_ID_RE: Final = re.compile(r"\bCM\d{4}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Countermeasure:
    id: str
    name: str
    pattern: re.Pattern[str]  # the name or any keyword, over lower-cased text

    def named_in(self, text: str) -> bool:
        """Whether ``text`` (lower case) uses this countermeasure's name or one of its keywords."""
        return self.pattern.search(text) is not None


_TABLE: Final = (
    (
        "CM0005",
        "Ground-based Countermeasures",
        r"\bremote (audit )?(log|logging|collector|syslog)\b|\bappend-only\b"
        r"|\bcentral(ised|ized)? log\w*|\bsiem\b|\boff-host\b",
    ),
    (
        "CM0002",
        "COMSEC",
        r"\bcommunications? security\b|\bencrypt\w*|\bconfidentiality\b",
    ),
    (
        "CM0029",
        "TRANSEC",
        r"\btransmission security\b|\bfrequency[- ]hopping\b|\bspread[- ]spectrum\b",
    ),
    (
        "CM0030",
        "Crypto Key Management",
        r"\bkey management\b|\bre-?key(ing)?\b|\bkey rotation\b|\brotate\b.{0,30}\bkeys?\b",
    ),
    (
        "CM0031",
        "Authentication",
        r"\bauthenticat\w*|\banti-?replay\b|\breplay (protection|window|check\w*)\b"
        r"|\bsequence numbers?\b|\bfreshness\b",
    ),
    (
        "CM0032",
        "On-board Intrusion Detection & Prevention",
        r"\bintrusion (detection|prevention)\b",
    ),
    ("CM0033", "Relay Protection", r"\brelay[- ]resistant\b|\brelay attacks?\b"),
    (
        "CM0034",
        "Monitor Critical Telemetry Points",
        r"\bmonitor\w*\b.{0,40}\btelemetry\b|\btelemetry\b.{0,40}\bmonitor\w*"
        r"|\balert\w*\b.{0,40}\b(command|telemetry)",
    ),
    (
        "CM0039",
        "Least Privilege",
        r"\bleast[- ]privilege\b|\bminimum (necessary )?privileges?\b|\brole-based access\b",
    ),
    ("CM0040", "Shared Resource Leakage", r"\bshared resources?\b|\bresource leakage\b"),
    (
        "CM0054",
        "Two-Person Rule",
        r"\btwo[- ]person\b|\bfour[- ]eyes\b|\bdual (control|authori[sz]ation)\b"
        r"|\bsecond (person|approver|flight director)\b",
    ),
)
COUNTERMEASURES: Final = {
    cm_id: Countermeasure(cm_id, name, re.compile(f"{re.escape(name.lower())}|{keywords}"))
    for cm_id, name, keywords in _TABLE
}


def ids_in(text: str) -> set[str]:
    """Countermeasure ids written anywhere in ``text``."""
    return {found.upper() for found in _CM_ID_RE.findall(text)}


def accepted_by_name(accepted: Iterable[str], text: str) -> list[str]:
    """Accepted countermeasure ids whose name or keywords appear in ``text``."""
    lowered = text.lower()
    known = [COUNTERMEASURES[cm] for cm in accepted if cm in COUNTERMEASURES]
    return [cm.id for cm in known if cm.named_in(lowered)]
