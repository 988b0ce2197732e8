"""The lab specification: frozen, typed models of ``labs/<id>/lab.yaml``.

Structure is checked here; the meaning of names that refer to vocabularies
(check names, inject kinds, adversary actions) and cross-references between
parts of a lab are checked by :mod:`labctl.spec.loader`, which knows the
file positions needed for good error messages.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

SCHEMA_VERSION: Final = 1

#: SPARTA tactic prefixes (https://sparta.aerospace.org), used to check technique ids.
SPARTA_TACTICS: Final = ("REC", "RD", "IA", "EX", "PER", "DE", "LM", "EXF", "IMP")
_TECHNIQUE_RE: Final = re.compile(r"^(?P<tactic>[A-Z]{2,3})-\d{4}(\.\d{2})?$")


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _check_technique(value: str) -> str:
    match = _TECHNIQUE_RE.match(value)
    if not match:
        raise ValueError("SPARTA technique ids look like EX-0001 or EX-0001.01")
    if match["tactic"] not in SPARTA_TACTICS:
        raise ValueError(f"unknown SPARTA tactic {match['tactic']!r}; one of {SPARTA_TACTICS}")
    return value


_DURATION_RE: Final = re.compile(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*")


def _parse_duration(value: Any) -> Any:
    """Accept seconds as a number or text like ``90s``, ``45m``, ``1h30m``."""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    match = re.fullmatch(_DURATION_RE, value)
    if not match or not any(match.groups()):
        raise ValueError("durations look like 90s, 45m or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$"),
    Field(description="lower-case letters, digits and dashes, starting with a letter or digit"),
]
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$"),
    Field(description="a Python-style identifier: lower-case letters, digits and underscores"),
]
SpartaTechniqueId = Annotated[str, AfterValidator(_check_technique), Field(examples=["EX-0001.01"])]
CountermeasureId = Annotated[
    str, StringConstraints(pattern=r"^CM\d{4}$"), Field(examples=["CM0031"])
]
CweId = Annotated[str, StringConstraints(pattern=r"^CWE-\d{1,5}$"), Field(examples=["CWE-294"])]
CvssVector = Annotated[
    str,
    StringConstraints(
        pattern=r"^CVSS:3\.[01]/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[NLH]/I:[NLH]/A:[NLH]$"
    ),
    Field(examples=["CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H"]),
]
_DURATION_PATTERN: Final = r"^\s*(\d+h)?\s*(\d+m)?\s*(\d+s)?\s*$"
Seconds = Annotated[
    int,
    BeforeValidator(_parse_duration),
    Field(ge=0, le=7 * 24 * 3600),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "description": "seconds"},
                {
                    "type": "string",
                    "pattern": _DURATION_PATTERN,
                    "examples": ["90s", "45m", "1h30m"],
                },
            ]
        }
    ),
]
CisspDomain = Annotated[int, Field(ge=1, le=8)]
CismDomain = Annotated[int, Field(ge=1, le=4)]
Points = Annotated[int, Field(ge=0, le=1000)]


class Host(StrEnum):
    """The five hosts of the standard ground segment."""

    SPACECRAFT = "spacecraft"
    RF_LINK = "rf-link"
    GROUND_STATION = "ground-station"
    MISSION_CONTROL = "mission-control"
    ATTACKER = "attacker"


class Role(StrEnum):
    """What a host runs: a standard host's program, or a service only some labs add."""

    SPACECRAFT = "spacecraft"
    RF_LINK = "rf-link"
    GROUND_STATION = "ground-station"
    MISSION_CONTROL = "mission-control"
    ATTACKER = "attacker"
    #: The remote, append-only log collector (mission control ships its audit trail there).
    LOG_SERVER = "log-server"


class Network(StrEnum):
    """The instance's internal networks: radio segment, ground LAN, corporate side."""

    RF = "rf"
    GROUND = "ground"
    CORP = "corp"


#: Which host sits on which network in the standard ground segment.
STANDARD_TOPOLOGY: Final[dict[Host, frozenset[Network]]] = {
    Host.SPACECRAFT: frozenset({Network.RF}),
    Host.RF_LINK: frozenset({Network.RF}),
    Host.GROUND_STATION: frozenset({Network.RF, Network.GROUND}),
    Host.MISSION_CONTROL: frozenset({Network.GROUND, Network.CORP}),
    Host.ATTACKER: frozenset({Network.CORP}),
}


class Difficulty(StrEnum):
    INTRODUCTORY = "introductory"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Mode(StrEnum):
    ATTACK = "attack"
    DEFENCE = "defence"
    BOTH = "both"


class ObjectiveKind(StrEnum):
    REMEDIATION = "remediation"
    AVAILABILITY = "availability"
    ATTACK = "attack"
    REPORT = "report"


class Sparta(Model):
    """SPARTA mapping: what the lab attacks and which countermeasures fix it."""

    techniques: tuple[SpartaTechniqueId, ...] = Field(min_length=1)
    countermeasures: tuple[CountermeasureId, ...] = ()


class Attachment(Model):
    host: Slug
    network: Network


class ExtraHost(Model):
    """A host added by the scenario, built like one of the standard roles or an extra
    service (``log-server``)."""

    name: Slug
    role: Role
    networks: tuple[Network, ...] = Field(min_length=1)


class Topology(Model):
    """Changes relative to the standard five-host ground segment."""

    add_hosts: tuple[ExtraHost, ...] = ()
    remove_hosts: tuple[Host, ...] = ()
    attach: tuple[Attachment, ...] = ()
    detach: tuple[Attachment, ...] = ()


# --- per-student parameters -------------------------------------------------------------


class _Param(Model):
    description: str = ""
    secret: bool = True


class HexKeyParam(_Param):
    """Random key material, rendered as hex (e.g. an SDLS AES key)."""

    type: Literal["hex_key"]
    bytes: Literal[16, 24, 32] = 16


class PasswordParam(_Param):
    """A password: drawn from a shipped word list (weak on purpose) or random (strong)."""

    type: Literal["password"]
    wordlist: Slug | None = Field(
        default=None, description="name of a word list under labctl/data/wordlists; none = random"
    )
    length: int = Field(default=16, ge=8, le=64, description="length of a random password")


class FlagParam(_Param):
    """A capture-the-flag token such as ``FLAG{3f9a…}``."""

    type: Literal["flag"]
    prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,15}$")] = "FLAG"
    hex_digits: int = Field(default=16, ge=8, le=64)


class IntRangeParam(_Param):
    """An integer drawn uniformly from ``[min, max]`` (an SPI, a port, a spacecraft id)."""

    type: Literal["int_range"]
    min: int
    max: int
    secret: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> IntRangeParam:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be greater than max ({self.max})")
        return self


class ChoiceParam(_Param):
    """One of a list of values."""

    type: Literal["choice"]
    options: tuple[str | int, ...] = Field(min_length=1)
    secret: bool = False

    @model_validator(mode="after")
    def _unique(self) -> ChoiceParam:
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must be unique")
        return self


Parameter = Annotated[
    HexKeyParam | PasswordParam | FlagParam | IntRangeParam | ChoiceParam,
    Field(discriminator="type"),
]


# --- vocabulary references (names validated against registries by the loader) -------------


class InjectRef(Model):
    """One change applied to a fresh instance before the student gets access."""

    kind: Identifier
    host: Slug | None = Field(default=None, description="target host, when the kind needs one")
    args: dict[str, Any] = Field(default_factory=dict)


class CheckRef(Model):
    """A grader check, by name, with its typed arguments."""

    name: Identifier
    args: dict[str, Any] = Field(default_factory=dict)
    timeout: Seconds = Field(default=30, ge=1, le=600)


class Weakness(Model):
    """A flaw the scenario injects: the ground truth for report grading."""

    id: Slug
    title: str = Field(min_length=3)
    component: Slug
    sparta: SpartaTechniqueId
    cwe: CweId
    cvss: CvssVector | None = None
    countermeasures: tuple[CountermeasureId, ...] = ()
    description: str = ""
    injects: tuple[InjectRef, ...] = ()


#: Events the scripted adversary observes on the air (docs/scenarios.md).
ADVERSARY_EVENTS: Final = ("pass_start", "pass_end")


class AdversaryStep(Model):
    """One action of the scripted adversary, at an offset after start or on an event."""

    action: Identifier
    at: Seconds | None = None
    on: Literal["pass_start", "pass_end"] | None = Field(
        default=None, description="an event the adversary observes: pass_start or pass_end"
    )
    repeat: int = Field(default=1, ge=1, le=10_000)
    every: Seconds | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _when(self) -> AdversaryStep:
        if (self.at is None) == (self.on is None):
            raise ValueError("give exactly one of 'at' (an offset) or 'on' (an event)")
        if self.repeat > 1 and self.every is None:
            raise ValueError("'repeat' needs 'every' (the interval between repeats)")
        return self


class Objective(Model):
    """Something a student must achieve, scored by one check."""

    id: Slug
    kind: ObjectiveKind
    title: str = Field(min_length=3)
    points: Points
    check: CheckRef | None = None
    hint: str = ""
    hidden: bool = Field(default=False, description="left out of the student's self-check")
    requires: tuple[Slug, ...] = Field(
        default=(), description="objectives (usually availability) this one depends on"
    )

    @model_validator(mode="after")
    def _check_present(self) -> Objective:
        if self.kind is not ObjectiveKind.REPORT and self.check is None:
            raise ValueError(f"a {self.kind.value} objective needs a 'check'")
        return self


class RubricWeights(Model):
    """How report points split; weights are relative, they need not sum to 100."""

    findings: int = Field(default=40, ge=0)
    severity: int = Field(default=15, ge=0)
    recommendations: int = Field(default=20, ge=0)
    evidence: int = Field(default=15, ge=0)
    prose: int = Field(default=10, ge=0)


class Rubric(Model):
    """How the ``report`` objective's points are earned."""

    weights: RubricWeights = RubricWeights()
    required_sections: tuple[str, ...] = ("Executive summary", "Scope", "Method", "Findings")


class RemediationStep(Model):
    """One script of the reference remediation, run on one host as one user."""

    host: Host
    script: str = Field(min_length=1, description="path relative to the lab folder (.py or .sh)")
    user: Identifier = Field(
        default="labctl", description="who runs it: labctl owns the hosts' configuration"
    )
    restart: bool = Field(
        default=True, description="restart the host's program after every step has run"
    )


class Solution(Model):
    """The reference solution, run by ``labctl selftest``. Paths are relative to the lab.

    ``remediation`` is either one script (run on the spacecraft as ``labctl``, which is then
    restarted) or a list of steps, each naming its host and user.
    """

    walkthrough: str | None = None
    attack: str | None = Field(default=None, description="run on the attacker as the student")
    remediation: str | tuple[RemediationStep, ...] | None = None
    operate: str | None = Field(
        default=None,
        pattern=r"^\d{1,3}\.\d{1,3}$",
        description="PUS service.subtype an operator sends while the attack runs "
        "(default: the attack objective's 'command', else 17.1)",
        examples=["8.1"],
    )

    @property
    def remediation_steps(self) -> tuple[RemediationStep, ...]:
        if self.remediation is None:
            return ()
        if isinstance(self.remediation, str):
            return (RemediationStep(host=Host.SPACECRAFT, script=self.remediation),)
        return self.remediation


class Phase(Model):
    """A later part of the lab: injects applied to the running instance when it opens.

    A phase gives the student access that would be a shortcut during the attack (e.g. the
    ground station's operations engineer account, once the student has broken in the way
    the lab teaches). It opens once every ``after`` objective has held (the self-check,
    the portal and ``labctl selftest`` look), or when the instructor opens it.
    """

    id: Slug
    title: str = Field(min_length=3, max_length=120)
    after: tuple[Slug, ...] = Field(
        default=(),
        description="attack objectives that open the phase once all have held; empty: only "
        "the instructor opens it (labctl phase open)",
    )
    injects: tuple[InjectRef, ...] = Field(min_length=1)
    briefing: str | None = Field(
        default=None,
        description="Markdown file (a template, like the briefing) added to the student's "
        "briefing once the phase is open",
    )


Path_ = tuple[str | int, ...]


class Lab(Model):
    """A whole lab: ``labs/<id>/lab.yaml``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: Slug
    title: str = Field(min_length=3, max_length=120)
    summary: str = Field(min_length=10)
    difficulty: Difficulty
    duration: Seconds = Field(description="expected time for a student, e.g. 90m")
    mode: Mode
    authors: tuple[str, ...] = ()
    sparta: Sparta
    cissp_domains: tuple[CisspDomain, ...] = Field(min_length=1)
    cism_domains: tuple[CismDomain, ...] = ()
    topology: Topology = Topology()
    parameters: dict[Identifier, Parameter] = Field(default_factory=dict)
    weaknesses: tuple[Weakness, ...] = ()
    injects: tuple[InjectRef, ...] = ()
    adversary: tuple[AdversaryStep, ...] = ()
    objectives: tuple[Objective, ...] = Field(min_length=1)
    report: Rubric = Rubric()
    briefing: str = "briefing.md"
    instructor_notes: str | None = None
    quiz: str | None = None
    solution: Solution = Solution()
    phases: tuple[Phase, ...] = ()

    @property
    def total_points(self) -> int:
        return sum(o.points for o in self.objectives)

    def placed_injects(self, *, phases: bool = True) -> list[tuple[Path_, InjectRef]]:
        """(path in the lab file, inject) for every inject: the set-up ``injects``, each
        weakness's, in the order ``labctl up`` applies them, then each phase's."""
        placed: list[tuple[Path_, InjectRef]] = [
            (("injects", i), ref) for i, ref in enumerate(self.injects)
        ]
        for w, weakness in enumerate(self.weaknesses):
            placed += [(("weaknesses", w, "injects", i), r) for i, r in enumerate(weakness.injects)]
        if phases:
            for p, phase in enumerate(self.phases):
                placed += [(("phases", p, "injects", i), r) for i, r in enumerate(phase.injects)]
        return placed

    def phase(self, ident: str) -> Phase | None:
        return next((p for p in self.phases if p.id == ident), None)

    def hosts(self) -> dict[str, frozenset[Network]]:
        """Host name → attached networks, after the lab's topology changes. ``attach`` and
        ``detach`` change the networks of hosts that exist: they never make one (the
        loader reports one that names no host)."""
        hosts: dict[str, set[Network]] = {h.value: set(n) for h, n in STANDARD_TOPOLOGY.items()}
        for removed in self.topology.remove_hosts:
            hosts.pop(removed.value, None)
        for extra in self.topology.add_hosts:
            hosts[extra.name] = set(extra.networks)
        for link in self.topology.attach:
            hosts.get(link.host, set()).add(link.network)
        for link in self.topology.detach:
            hosts.get(link.host, set()).discard(link.network)
        return {name: frozenset(nets) for name, nets in hosts.items()}


# --- quiz ------------------------------------------------------------------------------------


class QuizQuestion(Model):
    id: Slug
    prompt: str = Field(min_length=10)
    choices: tuple[str, ...] = Field(min_length=2, max_length=8)
    answer: int = Field(ge=0, description="index of the correct choice, from 0")
    explanation: str = ""
    cissp_domain: CisspDomain | None = None
    cism_domain: CismDomain | None = None

    @model_validator(mode="after")
    def _answer_in_range(self) -> QuizQuestion:
        if self.answer >= len(self.choices):
            raise ValueError(
                f"answer {self.answer} is not an index into {len(self.choices)} choices"
            )
        if self.cissp_domain is None and self.cism_domain is None:
            raise ValueError("tag the question with a cissp_domain or a cism_domain")
        return self


class Quiz(Model):
    questions: tuple[QuizQuestion, ...] = Field(min_length=1)
