"""Checks on the spacecraft's on-board tables: a load nobody signed, the spacecraft's
signature verification, and that flight dynamics' signed loads still go through.

Verdicts rest on the spacecraft's ground truth (``tables.limits``: the table in use, where
it came from, its signature) and on the graders' own verification of that signature with
flight dynamics' public key: the spacecraft's word that a table "verified" is not taken.
The active checks send TABLE_LOAD through mission control as the graders' flight
director, and never load anything the spacecraft does not run already or flight dynamics
did not sign: a refused-load probe carries the table in use (one version up, so a rollback
rule alone cannot refuse it) with a signature by a key that is not flight dynamics'.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar, Final

from pydantic import Field, field_validator

from graders.checks.base import Check, CheckResult, Probe, failed, passed, unobserved
from graders.checks.observe import login, verification
from labctl.errors import CheckError, ProtocolError
from labctl.protocols.table import (
    KEY_SIZE,
    LIMITS_TABLE,
    NO_BURN_LIMIT,
    LimitsTable,
    public_key,
    sign,
    verify,
)
from labctl.spec.vocabulary import Args

HEX_KEY: Final = rf"^[0-9a-fA-F]{{{2 * KEY_SIZE}}}$"
#: Seconds for a sent TABLE_LOAD's verification report.
LOAD_WITHIN: Final = 30.0


def active_limits(probe: Probe) -> dict[str, Any]:
    """The limits table in use, from ground truth; CheckError when it says none."""
    tables = probe.truth().get("tables")
    limits = tables.get("limits") if isinstance(tables, dict) else None
    if not isinstance(limits, dict):
        raise CheckError("truth", "the spacecraft's ground truth has no tables.limits")
    return limits


def table_of(limits: dict[str, Any]) -> LimitsTable:
    try:
        return LimitsTable(
            int(limits["version"]), int(limits["max_burn_ms"]), bool(limits["thruster_enabled"])
        )
    except (KeyError, TypeError, ValueError, ProtocolError) as exc:
        raise CheckError("truth", f"unreadable limits table in ground truth: {exc}") from None


def signed_by(limits: dict[str, Any], public_hex: str) -> bool:
    """Whether the table in use carries a signature that holds under ``public_hex``."""
    try:
        signature = bytes.fromhex(str(limits.get("signature") or ""))
    except ValueError:
        return False
    return verify(bytes.fromhex(public_hex), table_of(limits), signature)


def describe(limits: dict[str, Any]) -> str:
    enabled = "enabled" if limits.get("thruster_enabled") else "disabled"
    return (
        f"limits table v{limits.get('version')} (longest burn {limits.get('max_burn_ms')} ms,"
        f" thruster {enabled}) from the {limits.get('source')}"
    )


class PublicKeyArgs(Args):
    public_key: str = Field(
        pattern=HEX_KEY,
        description="flight dynamics' Ed25519 public key, hex"
        ' (e.g. "{{ params.table_key | ed25519_public }}")',
    )


# --- attack: a table nobody signed is in use ----------------------------------------------


class TableTamperedActive(Check[PublicKeyArgs]):
    name: ClassVar[str] = "table_tampered_active"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "Attack objective: the spacecraft runs a limits table from a load whose signature"
        " does not verify with flight dynamics' public key (ground truth)."
    )
    Args = PublicKeyArgs

    def judge(self, args: PublicKeyArgs, probe: Probe) -> CheckResult:
        limits = active_limits(probe)
        if limits.get("source") != "load":
            return failed(
                f"the spacecraft runs the {describe(limits)}",
                "Load a table of your own with TABLE_LOAD.",
            )
        if signed_by(limits, args.public_key):
            return failed(
                f"the spacecraft runs the {describe(limits)}, signed by flight dynamics",
                "A table flight dynamics signed is not yours: change it.",
            )
        return passed(f"the spacecraft runs the {describe(limits)}, whose signature does not hold")


# --- remediation: what is in use is trusted -------------------------------------------------


class TableTrustedActive(Check[PublicKeyArgs]):
    name: ClassVar[str] = "table_trusted_active"
    passive: ClassVar[bool] = True
    summary: ClassVar[str] = (
        "The limits table in use is the spacecraft's configured one, or a load whose"
        " signature the graders verify with flight dynamics' public key (ground truth)."
    )
    Args = PublicKeyArgs

    def judge(self, args: PublicKeyArgs, probe: Probe) -> CheckResult:
        limits = active_limits(probe)
        if limits.get("source") == "configuration":
            return passed(f"the spacecraft runs the {describe(limits)}")
        if signed_by(limits, args.public_key):
            return passed(f"the spacecraft runs the {describe(limits)}, signed by flight dynamics")
        return failed(
            f"the spacecraft runs the {describe(limits)}, whose signature does not hold",
            "A table nobody signed is still in use: what happens to a kept table at a reset"
            " once the spacecraft verifies?",
        )


# --- remediation: a load with a wrong signature is refused ---------------------------------


class TableLoadRefusedArgs(Args):
    within: int = Field(default=30, ge=5, le=120, description="seconds for the verdict")


def send_load(
    probe: Probe, token: str, table: LimitsTable, signature: bytes
) -> tuple[int, int | None, Any]:
    """POST TABLE_LOAD; (HTTP status, command id or None, answer)."""
    body = {
        "name": "TABLE_LOAD",
        "args": {
            "table": LIMITS_TABLE,
            "version": table.version,
            "max_burn_ms": table.max_burn_ms,
            "thruster_enabled": int(table.thruster_enabled),
            "signature": signature.hex(),
        },
    }
    status, answer = probe.api("POST", "/api/commands", body, token)
    ident = answer.get("id") if status == 201 and isinstance(answer, dict) else None
    return status, ident if isinstance(ident, int) else None, answer


class TableLoadRefused(Check[TableLoadRefusedArgs]):
    name: ClassVar[str] = "table_load_refused"
    summary: ClassVar[str] = (
        "A TABLE_LOAD of the table in use (one version up), signed with a key that is not"
        " flight dynamics', fails on board, and the table in use stays as it was."
    )
    Args = TableLoadRefusedArgs

    def judge(self, args: TableLoadRefusedArgs, probe: Probe) -> CheckResult:
        before = active_limits(probe)
        current = table_of(before)
        # The table in use, one version up (so no rollback rule refuses it for its
        # version), signed by anyone's key but flight dynamics'.
        table = LimitsTable(
            min(0xFFFF, current.version + 1), current.max_burn_ms, current.thruster_enabled
        )
        forged = sign(secrets.token_bytes(KEY_SIZE), table)
        token = login(probe, "flight-director")
        status, ident, answer = send_load(probe, token, table, forged)
        if ident is None:
            return unobserved(
                f"mission control did not send the TABLE_LOAD (HTTP {status}: {str(answer)[:120]})"
            )
        outcome = verification(probe, token, ident, args.within)
        after = active_limits(probe)
        if outcome == "completed" or after.get("signature") == forged.hex():
            return failed(
                f"the spacecraft applied a TABLE_LOAD signed by an unknown key ({outcome});"
                f" it runs the {describe(after)}",
                "The spacecraft must verify a table's signature before it applies it.",
            )
        if outcome != "failed":
            return unobserved(f"the TABLE_LOAD was not verified on board within {args.within} s")
        if after.get("signature") != before.get("signature"):
            return failed(f"the load failed, yet the table in use changed: {describe(after)}")
        return passed(
            f"a TABLE_LOAD signed by an unknown key failed on board; the {describe(after)}"
            " is still in use"
        )


# --- availability: flight dynamics' signed load still goes through ------------------------


class TableLoadAcceptedArgs(Args):
    signing_key: str = Field(
        pattern=HEX_KEY,
        description='flight dynamics\' Ed25519 private key, hex (e.g. "{{ params.table_key }}")',
    )
    version: int | None = Field(
        default=None, ge=0, le=0xFFFF, description="none: one above the table in use"
    )
    max_burn_ms: int = Field(default=NO_BURN_LIMIT, ge=0, le=0xFFFF)
    thruster_enabled: bool = True
    within: int = Field(default=30, ge=5, le=120, description="seconds for the verdict")

    @field_validator("signing_key")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class TableLoadAccepted(Check[TableLoadAcceptedArgs]):
    name: ClassVar[str] = "table_load_accepted"
    summary: ClassVar[str] = (
        "Flight dynamics' table, signed with their key, is loaded through mission control"
        " and is the table in use afterwards (ground truth)."
    )
    Args = TableLoadAcceptedArgs

    def judge(self, args: TableLoadAcceptedArgs, probe: Probe) -> CheckResult:
        seed = bytes.fromhex(args.signing_key)
        version = args.version
        if version is None:  # the next one: a spacecraft refusing rollbacks takes it too
            version = min(0xFFFF, table_of(active_limits(probe)).version + 1)
        table = LimitsTable(version, args.max_burn_ms, args.thruster_enabled)
        signature = sign(seed, table)
        token = login(probe, "flight-director")
        status, ident, answer = send_load(probe, token, table, signature)
        if ident is None:
            return failed(
                f"mission control did not send flight dynamics' TABLE_LOAD (HTTP {status}:"
                f" {str(answer)[:120]})",
                "Flight directors must be able to load signed tables.",
            )
        outcome = verification(probe, token, ident, args.within)
        after = active_limits(probe)
        if outcome != "completed" or after.get("signature") != signature.hex():
            return failed(
                f"flight dynamics' signed table v{table.version} was not applied ({outcome});"
                f" the spacecraft runs the {describe(after)}",
                "Verification must let flight dynamics' own signed tables through: is the"
                f" spacecraft's public key theirs ({public_key(seed).hex()[:16]}...)?",
            )
        return passed(f"flight dynamics' signed table was applied: the {describe(after)}")


# --- remediation: an older table, even a signed one, is refused ----------------------------


class TableRollbackRefusedArgs(Args):
    signing_key: str = Field(
        pattern=HEX_KEY,
        description='flight dynamics\' Ed25519 private key, hex (e.g. "{{ params.table_key }}")',
    )
    max_burn_ms: int = Field(
        default=1000, ge=0, le=0xFFFF, description="the old table's longest burn (a harmless one)"
    )
    within: int = Field(default=30, ge=5, le=120, description="seconds for the verdict")


class TableRollbackRefused(Check[TableRollbackRefusedArgs]):
    name: ClassVar[str] = "table_rollback_refused"
    summary: ClassVar[str] = (
        "A limits table that flight dynamics signed but that is not newer than the one in"
        " use (version 0) fails on board: no rollback."
    )
    Args = TableRollbackRefusedArgs

    def judge(self, args: TableRollbackRefusedArgs, probe: Probe) -> CheckResult:
        before = active_limits(probe)
        # Version 0: older than anything flight dynamics issues, so a rollback that goes
        # through (before the fix) never takes a version number a real table will need.
        version = 0
        old = LimitsTable(version, args.max_burn_ms, True)
        signature = sign(bytes.fromhex(args.signing_key), old)
        token = login(probe, "flight-director")
        status, ident, answer = send_load(probe, token, old, signature)
        if ident is None:
            return unobserved(
                f"mission control did not send the TABLE_LOAD (HTTP {status}: {str(answer)[:120]})"
            )
        outcome = verification(probe, token, ident, args.within)
        after = active_limits(probe)
        if outcome == "completed" or after.get("signature") == signature.hex():
            return failed(
                f"the spacecraft applied a signed but older table (v{version}, in use was"
                f" v{before.get('version')}): it runs the {describe(after)}",
                "A signature says who made a table, not that it is the latest: refuse older"
                " versions.",
            )
        if outcome != "failed":
            return unobserved(f"the TABLE_LOAD was not verified on board within {args.within} s")
        return passed(
            f"a signed table not newer than the one in use (v{version}, in use"
            f" v{before.get('version')})"
            f" failed on board; the {describe(after)} is still in use"
        )
