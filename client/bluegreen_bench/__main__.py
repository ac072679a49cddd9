"""`python -m bluegreen_bench` (`make bench`): measure, then print the tables.

    python -m bluegreen_bench                 # everything, default sample sizes (~1-2 min)
    python -m bluegreen_bench --quick         # fewer samples, no 1,000-target fleet
    python -m bluegreen_bench --markdown FILE # also write the tables as Markdown

Figures are reported against the design's targets; nothing here fails on a time.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import cold_init, restore, rollback, switch_runs
from .functions import template_functions

Table = tuple[str, list[str], list[list[str]]]  # title, header, rows


def _usd(value: float) -> str:
    return f"${value:.6f}"


def _names(functions: tuple[str, ...], width: int = 60) -> str:
    names = ", ".join(f.removesuffix("Function") for f in functions)
    if len(names) <= width:
        return names
    return f"{len(functions)} functions: {names[: width - 16].rsplit(', ', 1)[0]}, ..."


def init_table(rows: list[cold_init.InitRow], runs: int) -> Table:
    body = [
        [
            row.module,
            _names(row.functions),
            f"{row.median_ms:.0f}",
            f"{row.ratio:.2f}x",
            f"<= {row.target:g}x",
        ]
        for row in rows
    ]
    boto3_ms = rows[0].boto3_ms if rows else 0.0
    title = (
        f"Cold init: handler module import in a fresh process, median of {runs} "
        f"(bare `import boto3` = {boto3_ms:.0f} ms in the same run)"
    )
    return title, ["module", "functions", "init ms", "vs boto3", "target"], body


def strategy_table(runs: list[switch_runs.SwitchRun]) -> Table:
    body = [
        [
            run.label,
            run.status,
            str(run.transitions),
            str(len(run.invocations)),
            f"{run.gb_seconds:.3f}",
            str(run.aws_calls),
            _usd(run.step_functions_usd),
            _usd(run.lambda_usd),
            _usd(run.usd),
            f"{run.configured_wait_s}",
            f"{run.seconds:.2f}",
        ]
        for run in runs
    ]
    header = [
        "strategy",
        "status",
        "transitions",
        "invocations",
        "GB-s",
        "AWS calls",
        "Step Functions",
        "Lambda",
        "USD / switch",
        "configured waits s",
        "overhead s",
    ]
    title = (
        "One switch per strategy (test traffic + 2 probes, 2 alarms, 1 listener + 1 rule); "
        "overhead = run time at clock scale 0 (target < 2 s; a 10% canary <= 30 transitions)"
    )
    return title, header, body


def growth_table(title: str, runs: list[switch_runs.SwitchRun]) -> Table:
    body = [
        [
            run.label,
            run.status,
            str(run.transitions),
            str(run.aws_calls),
            f"{run.gb_seconds:.3f}",
            _usd(run.usd),
            f"{run.seconds:.2f}",
        ]
        for run in runs
    ]
    header = ["fleet", "status", "transitions", "AWS calls", "GB-s", "USD / switch", "overhead s"]
    return title, header, body


def rollback_table(rows: list[rollback.Percentiles]) -> Table:
    body = [
        [
            row.label,
            str(row.samples),
            f"{row.p50_ms:.0f}",
            f"{row.p95_ms:.0f}",
            str(row.calls_before_restore),
        ]
        for row in rows
    ]
    title = (
        "Time to rollback: alarm function handler latency on the emulated AWS "
        "(target: <= 2 AWS calls before traffic is restored)"
    )
    return title, ["start", "samples", "p50 ms", "p95 ms", "calls before restore"], body


def _seconds(row: restore.RestoreRow, attribute: str) -> str:
    low, high = row.span(attribute)
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


def restore_table(rows: list[restore.RestoreRow]) -> Table:
    body = [
        [
            row.scenario.label,
            str(row.scenario.bake_seconds),
            str(len(row.samples)),
            "/".join(sorted({s.status for s in row.samples})),
            ", ".join(sorted({s.restored_by.removesuffix("Function") for s in row.samples})),
            _seconds(row, "seconds"),
            " + ".join(_seconds(row, part) for part in ("window", "evaluation", "restore")),
            _seconds(row, "transitions"),
            _seconds(row, "calls"),
            f"{row.median('wall_seconds'):.2f}",
            f"{row.median('switch_wall_seconds'):.2f}",
        ]
        for row in rows
    ]
    header = [
        "path",
        "bake s",
        "samples",
        "execution",
        "restored by",
        "first 5xx -> restored s",
        "= window + evaluation + restore",
        "transitions",
        "AWS calls",
        "wall s (p50)",
        "switch wall s (p50)",
    ]
    title = (
        f"Time to restore: a {restore.CANARY_PERCENT}% canary whose green answers "
        f"{restore.GREEN_ERRORS:.0%} of its requests with a 503 (blue {restore.BLUE_ERRORS:.1%}), "
        f"{restore.USERS_PER_SECOND} users a second on the production listener; analysis: "
        f"{restore.analysis_configured()}. Seconds from green's first "
        "5xx to every production route on blue, on the emulator's clock (alarms are not "
        "evaluated: the alarm's state is set at the first 5xx); transitions, AWS calls and "
        "wall time from detection (the deciding Gate's start, the alarm's state change) to "
        "the restore"
    )
    return title, header, body


def render_text(table: Table) -> str:
    title, header, rows = table
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)
    out = [title, line, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out) + "\n"


def render_markdown(table: Table) -> str:
    title, header, rows = table
    out = [f"**{title}**", "", "| " + " | ".join(header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bluegreen_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples, smaller fleets")
    parser.add_argument("--init-runs", type=int, default=None, help="fresh processes per module")
    parser.add_argument("--rollbacks", type=int, default=None, help="samples, cold and warm each")
    parser.add_argument("--restores", type=int, default=None, help="samples per restore path")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args(argv)
    init_runs = args.init_runs or (3 if args.quick else 9)
    rollbacks = args.rollbacks or (5 if args.quick else 20)
    restores = args.restores or (2 if args.quick else 5)
    targets = [10, 100] if args.quick else [10, 100, 1000]

    started = time.perf_counter()
    tables = [init_table(cold_init.measure(template_functions(), runs=init_runs), init_runs)]
    print(render_text(tables[-1]), flush=True)

    from bluegreen_emulator import Emulator

    with Emulator() as aws, switch_runs.recording(aws) as log:
        fleets = switch_runs.Fleets(aws)
        tables.append(strategy_table(switch_runs.strategies(aws, log, fleets)))
        print(render_text(tables[-1]), flush=True)
        tables.append(
            growth_table(
                "Growth with the idle group's size: a 10% canary (health read before each "
                "shift and at each gate)",
                switch_runs.with_targets(aws, log, fleets, targets),
            )
        )
        print(render_text(tables[-1]), flush=True)
        tables.append(
            growth_table(
                "Growth with routes: a 10% canary over N production listeners and N rules",
                switch_runs.with_routes(aws, log, fleets, [1, 5]),
            )
        )
        print(render_text(tables[-1]), flush=True)
        tables.append(restore_table(restore.measure(aws, log, fleets, restores)))
        print(render_text(tables[-1]), flush=True)
        if rollback.available(aws):
            tables.append(rollback_table(rollback.measure(aws, log, fleets, rollbacks)))
            print(render_text(tables[-1]), flush=True)
        else:
            print("(no AlarmRollbackFunction in the template: time to rollback not measured)\n")

    elapsed = time.perf_counter() - started
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {platform.system()}; bench took {elapsed:.0f} s"
    )
    print(machine)
    if args.markdown:
        args.markdown.write_text(
            "\n".join(render_markdown(t) for t in tables) + f"\n_{machine}_\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
