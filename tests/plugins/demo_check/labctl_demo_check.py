"""A check published by another package: the spacecraft's ground truth holds a key."""

from pydantic import Field

from graders.checks.base import Check, CheckResult, Probe, failed, passed
from labctl.spec.vocabulary import Args


class TruthHasArgs(Args):
    key: str = Field(min_length=1, description="a top-level key of the ground truth")


class TruthHas(Check[TruthHasArgs]):
    name = "demo_truth_has"
    summary = "The spacecraft's ground truth document has a given top-level key."
    Args = TruthHasArgs

    def judge(self, args: TruthHasArgs, probe: Probe) -> CheckResult:
        truth = probe.truth()
        if args.key in truth:
            return passed(f"ground truth has {args.key!r}")
        return failed(f"ground truth has no {args.key!r}", hint="look at the spacecraft")


CHECKS = (TruthHas,)
