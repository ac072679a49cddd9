"""Exit codes a CI job can branch on, and the one error type every command raises.

| code | meaning                                                                       |
|------|-------------------------------------------------------------------------------|
| 0    | done: the switch succeeded, or the action asked for was carried out            |
| 1    | anything else failed (the message says what, and what to do)                   |
| 2    | bad usage or bad input (nothing was changed)                                   |
| 3    | the switch was rolled back: traffic is back where it was                       |
| 4    | a lock is held: another deployment owns a listener this one needs             |
| 5    | the switch is waiting for approval (`bluegreen approve` / `bluegreen abort`)   |
| 6    | the switch is still running (`status --once`)                                  |
"""

from __future__ import annotations

OK = 0
FAILED = 1
BAD_INPUT = 2
ROLLED_BACK = 3
LOCK_HELD = 4
WAITING_FOR_APPROVAL = 5
RUNNING = 6

MEANING = {
    OK: "succeeded",
    FAILED: "failed",
    BAD_INPUT: "bad usage or input",
    ROLLED_BACK: "rolled back",
    LOCK_HELD: "lock held",
    WAITING_FOR_APPROVAL: "waiting for approval",
    RUNNING: "running",
}


class CliError(Exception):
    """What went wrong, what to do about it, and the exit code."""

    def __init__(
        self, message: str, hint: str = "", code: int = FAILED, aws_code: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.aws_code = aws_code  # the AWS error code behind it, if any

    def as_dict(self) -> dict[str, object]:
        return {
            "error": self.message,
            "hint": self.hint,
            "exitCode": self.code,
            "meaning": MEANING.get(self.code, "failed"),
        }
