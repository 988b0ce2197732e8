"""The check vocabulary that lab specs refer to by name.

Each check is a class with a ``name``, a one-line ``summary`` and a pydantic
``Args`` model; the spec loader validates a lab's ``check.args`` against it.
The package is published to labctl through the ``labctl.checks`` entry point
(see pyproject.toml), so third-party packages can add checks the same way.
"""

from __future__ import annotations

from typing import Any

from graders.checks.access import AuditRecorded, HazardousExecuted, HazardousRefused, LoginRefused
from graders.checks.adversary import AdversaryContained
from graders.checks.adversary_outcome import AdversarySucceeded
from graders.checks.base import Check
from graders.checks.cop1 import ClearDirectiveRejected, ForgedDirectiveAccepted
from graders.checks.downlink import DownlinkConfidential, DownlinkSecretExposed
from graders.checks.failover import CommandsDespiteJamming, SaRetired
from graders.checks.forgery import ForgedCommandExecuted, UnauthenticatedRejected
from graders.checks.hosts import (
    FilePrivate,
    OldKeyRejected,
    SshPasswordRefused,
    UnsentCommandExecuted,
)
from graders.checks.images import ImageSecretsAbsent
from graders.checks.ingest import MalformedTelemetrySurvives, TelemetryProcessingHalted
from graders.checks.insider import AuditConcealed, AuditShipped, HazardousHeld
from graders.checks.network import PortClosed, PortOpen
from graders.checks.stations import StationAccessRefused
from graders.checks.tables import (
    TableLoadAccepted,
    TableLoadRefused,
    TableRollbackRefused,
    TableTamperedActive,
    TableTrustedActive,
)
from graders.checks.uplink import CommandRoundTrip, ReplayExecuted, ReplayRejected, TelemetryFresh

BUILTIN_CHECKS: tuple[type[Check[Any]], ...] = (
    ReplayRejected,
    ReplayExecuted,
    CommandRoundTrip,
    TelemetryFresh,
    HazardousExecuted,
    LoginRefused,
    HazardousRefused,
    AuditRecorded,
    DownlinkSecretExposed,
    DownlinkConfidential,
    ForgedCommandExecuted,
    UnauthenticatedRejected,
    AdversarySucceeded,
    AdversaryContained,
    SshPasswordRefused,
    FilePrivate,
    OldKeyRejected,
    UnsentCommandExecuted,
    PortClosed,
    PortOpen,
    ForgedDirectiveAccepted,
    ClearDirectiveRejected,
    TelemetryProcessingHalted,
    MalformedTelemetrySurvives,
    CommandsDespiteJamming,
    SaRetired,
    AuditConcealed,
    HazardousHeld,
    AuditShipped,
    TableTamperedActive,
    TableTrustedActive,
    TableLoadRefused,
    TableLoadAccepted,
    TableRollbackRefused,
    ImageSecretsAbsent,
    StationAccessRefused,
)

__all__ = ["BUILTIN_CHECKS", "Check"]
