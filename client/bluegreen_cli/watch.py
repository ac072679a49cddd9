"""Following a switch until it ends (or until it waits for approval).

Three ways to show it, chosen by where the output goes:

- a terminal: the whole status view, redrawn in place every `interval` seconds, in
  colour (rich), every line cut to the terminal's width and the timeline to its height;
- a log (CI, a pipe): each timeline line once, as it happens, then the final view;
- `--json`: one JSON snapshot per line whenever something changed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from . import render
from .status import Snapshot

CLEAR = "\x1b[H\x1b[2J"
STYLES = {
    "ok": "green",
    "fail": "bold red",
    "warn": "yellow",
    "now": "bold cyan",
    "dim": "dim",
    "title": "bold",
    "": "",
}


class Screen:
    """A terminal: the view in colour, cut to its size (rich, imported on first draw)."""

    def __init__(self, out: TextIO, color: bool = True) -> None:
        self.out = out
        self.color = color and not os.environ.get("NO_COLOR")
        self._console: Any = None

    def size(self) -> tuple[int, int]:
        columns, lines = shutil.get_terminal_size((80, 24))
        return max(40, columns), max(10, lines)

    def draw(self, snapshot: Snapshot) -> None:
        from rich.console import Console
        from rich.text import Text

        width, height = self.size()
        if self._console is None:
            self._console = Console(
                file=self.out,
                force_terminal=True,
                no_color=not self.color,
                highlight=False,
                soft_wrap=False,
            )
        self._console.width = width
        lines = render.status_lines(snapshot, width=width, height=height - 1)
        self.out.write(CLEAR)
        for line in lines:
            self._console.print(
                Text.assemble(*_styled(line)), overflow="ellipsis", no_wrap=True, crop=True
            )


def _styled(line: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(text, STYLES.get(style, "")) for text, style in line]


def follow(
    fetch: Callable[[], Snapshot],
    out: TextIO,
    *,
    interval: float = 2.0,
    tty: bool = False,
    as_json: bool = False,
    through_approval: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    color: bool = True,
) -> Snapshot:
    """Show the switch until it ends; returns the last snapshot."""
    screen = Screen(out, color) if tty and not as_json else None
    printed_lines = 0
    last_json = ""
    while True:
        snapshot = fetch()
        done = snapshot.ended or (snapshot.waiting_for_approval and not through_approval)
        if as_json:
            last_json = _json_line(snapshot, last_json, out)
        elif screen is not None:
            screen.draw(snapshot)
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
