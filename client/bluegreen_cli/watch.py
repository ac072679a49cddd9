"""Following a switch until it ends (or until it waits for approval).

Three ways to show it, chosen by where the output goes:

- a terminal: the whole status view, redrawn in place every `interval` seconds;
- a log (CI, a pipe): each timeline line once, as it happens, then the final view;
- `--json`: one JSON snapshot per line whenever something changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

from . import render
from .status import Snapshot

CLEAR = "\x1b[H\x1b[2J"


def follow(
    fetch: Callable[[], Snapshot],
    out: TextIO,
    *,
    interval: float = 2.0,
    tty: bool = False,
    as_json: bool = False,
    through_approval: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Snapshot:
    """Show the switch until it ends; returns the last snapshot."""
    printed_lines = 0
    last_json = ""
    while True:
        snapshot = fetch()
        done = snapshot.ended or (snapshot.waiting_for_approval and not through_approval)
        if as_json:
            last_json = _json_line(snapshot, last_json, out)
        elif tty:
            out.write(CLEAR + render.status(snapshot))
        else:
            printed_lines = _new_timeline(snapshot, printed_lines, out, first=printed_lines == 0)
            if done:
                out.write("\n" + render.status(snapshot))
        out.flush()
        if done:
            return snapshot
        sleep(interval)


def _json_line(snapshot: Snapshot, last: str, out: TextIO) -> str:
    data = snapshot.as_dict()
    data.pop("observed_at", None)
    text = json.dumps(data, sort_keys=True)
    if text != last:
        out.write(json.dumps(snapshot.as_dict(), sort_keys=True) + "\n")
    return text


def _new_timeline(snapshot: Snapshot, printed: int, out: TextIO, first: bool) -> int:
    if first:
        out.write(f"following switch {snapshot.deployment_id}\n")
    view = render.status(snapshot).splitlines()
    try:
        start = view.index("  timeline") + 1
    except ValueError:
        return printed
    lines = [line for line in view[start:] if line.startswith("    ")]
    for line in lines[printed:]:
        out.write(line + "\n")
    return max(printed, len(lines))
