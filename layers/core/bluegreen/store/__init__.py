"""The one store: every DynamoDB item this stack writes goes through this package
(`keys` names them all)."""

from .deployments import (
    ENDED,
    FAILED,
    IN_PROGRESS,
    ROLLED_BACK,
    SETTLING,
    SUCCEEDED,
    Claim,
    Deployments,
    Guard,
    LeaseLost,
    LockHeld,
    NotTheOwner,
    OutcomeAlreadyDecided,
    RecordNotFound,
    StoreUnavailable,
    decode_record,
    now_iso,
)

__all__ = [
    "ENDED",
    "FAILED",
    "IN_PROGRESS",
    "ROLLED_BACK",
    "SETTLING",
    "SUCCEEDED",
    "Claim",
    "Deployments",
    "Guard",
    "LeaseLost",
    "LockHeld",
    "NotTheOwner",
    "OutcomeAlreadyDecided",
    "RecordNotFound",
    "StoreUnavailable",
    "decode_record",
    "now_iso",
]
