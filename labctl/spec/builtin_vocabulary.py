"""Argument models of the built-in inject kinds and adversary actions.

Only the models live here, shared by the two places that use them: the classes
that carry them out name them as their ``Args`` and register them under their
names (inject kinds in :mod:`labctl.scenario.appliers`, adversary actions in
:mod:`labctl.range.adversary.actions`, published through the ``labctl.injects``
and ``labctl.actions`` entry points). There is no table of names here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from labctl.spec.models import Network, Seconds
from labctl.spec.params import WORDLIST_DIR
from labctl.spec.vocabulary import Args, HostRef, PortNumber

AbsPath = Annotated[str, StringConstraints(pattern=r"^/[^\x00]*$")]
FileMode = Annotated[str, StringConstraints(pattern=r"^0?[0-7]{3,4}$"), Field(examples=["0600"])]
UserName = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]


class SetConfig(Args):
    """Set one key in a host's YAML/INI configuration file."""

    file: AbsPath
    key: str = Field(min_length=1, examples=["sdls.associations.uplink.anti_replay"])
    value: Any


class WriteFile(Args):
    """Write a file from a Jinja2 template in the lab folder, or from inline text."""

    path: AbsPath
    template: str | None = Field(default=None, description="path relative to the lab folder")
    content: str | None = None
    mode: FileMode = "0644"
    owner: UserName = "root"

    @model_validator(mode="after")
    def _one_source(self) -> WriteFile:
        if (self.template is None) == (self.content is None):
            raise ValueError("give exactly one of 'template' or 'content'")
        return self


ImagePath = Annotated[
    str,
    StringConstraints(pattern=r"^/?[A-Za-z0-9._+@-][A-Za-z0-9._+@/-]{0,250}$"),
    Field(examples=["etc/labctl/keys/uplink.key"]),
]


class ImageLayer(Args):
    """One build step of an image: the files it writes and the paths it deletes."""

    created_by: str = Field(
        min_length=1, max_length=500, description="the build step, as `docker history` shows it"
    )
    files: dict[ImagePath, str] = Field(default_factory=dict, description="path -> text")
    delete: tuple[ImagePath, ...] = Field(
        default=(), description="paths of earlier layers this step removes (whiteouts)"
    )

    @field_validator("files", "delete")
    @classmethod
    def _inside(cls, value: Any) -> Any:
        for path in value:
            if ".." in path.split("/") or path.strip("/") == "":
                raise ValueError(f"{path!r} is not a path inside the image")
        return value


class ImageArchive(Args):
    """Write a container image archive, as `docker save` writes it, built layer by layer;
    a layer's `delete` hides earlier files (whiteouts) but leaves them in the archive."""

    path: AbsPath
    name: Annotated[
        str,
        StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/-]{0,120}:[A-Za-z0-9._-]{1,64}$"),
        Field(examples=["ground-station:2.3.1"]),
    ]
    layers: tuple[ImageLayer, ...] = Field(min_length=1, max_length=16)
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    mode: FileMode = "0644"
    owner: UserName = "root"


class AddUser(Args):
    """Create a login account; the password may be a parameter, e.g. '{{ params.op_password }}'."""

    user: UserName
    password: str | None = None
    groups: tuple[UserName, ...] = ()
    shell: AbsPath = "/bin/bash"


class Service(Args):
    """Enable or disable a service on a host."""

    service: str = Field(min_length=1)
    enabled: bool


class Port(Args):
    """Open or close a port on a host's firewall."""

    port: PortNumber
    protocol: Annotated[str, StringConstraints(pattern=r"^(tcp|udp)$")] = "tcp"
    open: bool


class Attach(Args):
    """Attach the host to, or detach it from, one of the instance networks."""

    network: Network
    attached: bool = True


class RfConditions(Args):
    """Radio-link conditions: loss, bit errors, delay, jamming, contact windows."""

    loss: float = Field(default=0.0, ge=0.0, le=1.0)
    bit_error_rate: float = Field(default=0.0, ge=0.0, le=0.1)
    delay_ms: int = Field(default=0, ge=0, le=10_000)
    jamming: bool = False
    pass_every: Seconds | None = Field(default=None, description="period of contact windows")
    pass_length: Seconds | None = None


class ReplayTelecommands(Args):
    """Record uplink frames heard on the RF segment and transmit them again."""

    count: int = Field(default=1, ge=1, le=1000)
    delay: Seconds = 0


class InjectFrames(Args):
    """Transmit forged TC frames as a rogue ground station."""

    service: int = Field(ge=0, le=255)
    subtype: int = Field(ge=0, le=255)
    spi: int | None = Field(
        default=None, ge=0, le=0xFFFF, description="SPI of a clear SDLS header; none = no SDLS"
    )
    bypass: bool = True
    app_data: Annotated[str, StringConstraints(pattern=r"^([0-9a-fA-F]{2}){0,256}$")] = Field(
        default="", description="application data as hex, e.g. 0005 (8,1 function SAFE_MODE)"
    )


class Flood(Args):
    """Transmit garbage or valid-looking frames at a fixed rate."""

    rate: int = Field(ge=1, le=20_000, description="frames per second")
    duration: Seconds


class BruteForce(Args):
    """Try passwords from a word list against SSH or the mission-control login."""

    target: Annotated[
        Literal["ssh", "mission-control"],
        HostRef(aliases=(("ssh", "ground-station"),)),
        Field(description="the ground station's sshd (ssh) or mission control's login"),
    ]
    username: UserName
    wordlist: str = Field(default="weak-passwords", description="a word list labctl ships")
    max_attempts: int = Field(default=500, ge=1, le=100_000)

    @field_validator("wordlist")
    @classmethod
    def _shipped(cls, value: str) -> str:
        known = sorted(p.stem for p in WORDLIST_DIR.glob("*.txt"))
        if value not in known:
            raise ValueError(f"unknown word list; known: {', '.join(known)}")
        return value


class Jam(Args):
    """Jam the radio link: nothing gets through while it lasts."""

    duration: Seconds


class HazardousCommand(Args):
    """Send a hazardous command through mission control with stolen credentials."""

    command: str = Field(
        examples=["THRUSTER_FIRE"], description="a command name of the mission database"
    )
    username: UserName
    password: str
    command_args: dict[Annotated[str, StringConstraints(max_length=64)], int] = Field(
        default_factory=dict, description="the command's arguments, e.g. {duration_ms: 500}"
    )

    @field_validator("command")
    @classmethod
    def _command_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", value):
            raise ValueError("not a command name (capitals, e.g. THRUSTER_FIRE)")
        return value
