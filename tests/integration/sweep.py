"""Exhaustive sweeps: every case with `BLUEGREEN_SWEEP=all` (`make sweep`), a bounded sample
in `make test`.

A fault sweep fails one AWS call per case. The bounded sample keeps every case where a
failure could leave traffic or the record wrong (a write: to a route, to the platform, to
the table) and every other one of the rest (reads and announcements), in the order the
path makes them; so each function and each kind of call stays covered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest

# operations that change something (an announcement is not among them: PutEvents)
_WRITES = ("Modify", "Create", "Update", "Put", "Delete", "TransactWrite", "Stop", "Register")


def everything() -> bool:
    return os.environ.get("BLUEGREEN_SWEEP") == "all"


def is_write(operation: str) -> bool:
    return operation.startswith(_WRITES) and operation != "PutEvents"


def fault_cases(
    cases: Sequence[Any], operation: Callable[[Any], str], ids: Callable[[Any], str]
) -> list[Any]:
    """`cases` as sweep parameters: all of them, or the writes and every other read."""
    chosen, reads = [], 0
    for case in cases:
        write = is_write(operation(case))
        if not write:
            reads += 1
        if everything() or write or reads % 2 == 1:
            values = case if isinstance(case, tuple) else (case,)
            chosen.append(pytest.param(*values, id=ids(case), marks=pytest.mark.sweep))
    return chosen
