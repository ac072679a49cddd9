"""`bluegreen`: drive blue/green switches from a terminal or a CI job.

Each command is a small function `(args, ctx) -> exit code`; the actions and the
rendering live in their own modules. Exit codes: see `exits.py` (and the README).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TextIO

from . import actions, exits, render, spec
from .connect import Aws, Stack, Target, discover
from .exits import CliError
from .status import Snapshot, collect, exit_code
from .watch import follow

EPILOG = """exit codes: 0 done/succeeded, 1 failed, 2 bad usage or input, 3 rolled back,
4 lock held, 5 waiting for approval, 6 still running (status --once)

environment: BLUEGREEN_STACK, BLUEGREEN_ENDPOINT_URL, BLUEGREEN_USER, AWS_PROFILE, AWS_REGION"""


@dataclass
class Context:
    """What every command gets: where to talk to, where to write, how to wait."""

    args: argparse.Namespace
    out: TextIO
    err: TextIO
    sleep: Callable[[float], None]
    _aws: Aws | None = None
    _stack: Stack | None = None

    @property
    def aws(self) -> Aws:
        if self._aws is None:
            self._aws = Aws(
                Target(
                    stack=self.args.stack,
                    profile=self.args.profile,
                    region=self.args.region,
                    endpoint_url=self.args.endpoint_url,
                )
            )
        return self._aws

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            self._stack = discover(self.aws, self.args.stack)
        return self._stack

    def emit(self, text: str, data: Any) -> None:
        """Text for people, or with --json the data for machines."""
        if self.args.json:
            self.out.write(json.dumps(data, sort_keys=True, default=str) + "\n")
        else:
            self.out.write(text if text.endswith("\n") else text + "\n")

    def follow(self, deployment_id: str, through_approval: bool = False) -> Snapshot:
        return follow(
            lambda: collect(self.aws, self.stack, deployment_id),
            self.out,
            interval=self.args.interval,
            tty=self.out.isatty() and not self.args.json,
            as_json=self.args.json,
            through_approval=through_approval,
            sleep=self.sleep,
        )


# -- commands ---------------------------------------------------------------------------------
def cmd_deploy(ctx: Context) -> int:
    args = ctx.args
    request = spec.build_request(args)
    spec.validate(request)
    deployment_id = spec.deployment_id(args.id, request, actions.now_stamp())
    actions.start(ctx.aws, ctx.stack, request, deployment_id)
    if args.watch:
        return exit_code(ctx.follow(deployment_id, args.through_approval))
    snapshot = actions.wait_until_started(ctx.aws, ctx.stack, deployment_id, ctx.sleep)
    code = exit_code(snapshot)
    if snapshot.ended and code != exits.OK:
        raise CliError(
            f"switch {deployment_id} was refused: {snapshot.error}: {snapshot.cause}",
            _refusal_hint(snapshot),
            code,
        )
    ctx.emit(
        f"started switch {deployment_id} ({render.phase(snapshot).lower()})\n"
        f"  follow it:  bluegreen status {deployment_id}\n"
        f"  abort it:   bluegreen abort {deployment_id}",
        {"deploymentId": deployment_id, "executionArn": snapshot.execution_arn, "exitCode": 0},
    )
    return exits.OK


def _refusal_hint(snapshot: Snapshot) -> str:
    if snapshot.error == "LockHeld":
        return "wait for that deployment to end (bluegreen status ID) or abort it, then retry"
    if snapshot.error == "InvalidInput":
        return "fix the field named above; nothing was changed"
    return f"see `bluegreen status {snapshot.deployment_id} --once`"


def cmd_plan(ctx: Context) -> int:
    request = spec.build_request(ctx.args)
    spec.validate(request)
    planned = actions.plan(ctx.aws, ctx.stack, request, ctx.sleep)
    ctx.emit(render.plan(planned), planned)
    return exits.OK


def cmd_status(ctx: Context) -> int:
    deployment_id = ctx.args.id or actions.latest(ctx.aws, ctx.stack)
    if ctx.args.once:
        snapshot = collect(ctx.aws, ctx.stack, deployment_id)
        ctx.emit(render.status(snapshot), snapshot.as_dict())
        return exit_code(snapshot)
    return exit_code(ctx.follow(deployment_id, ctx.args.through_approval))


def cmd_approve(ctx: Context) -> int:
    by = ctx.args.requested_by or spec.operator()
    actions.approve(ctx.aws, ctx.stack, ctx.args.id, by, ctx.args.comment or "")
    if ctx.args.watch:
        return exit_code(ctx.follow(ctx.args.id, through_approval=True))
    ctx.emit(
        f"approved switch {ctx.args.id} (as {by}); traffic moves on\n"
        f"  follow it:  bluegreen status {ctx.args.id}",
        {"deploymentId": ctx.args.id, "approvedBy": by, "exitCode": 0},
    )
    return exits.OK


def cmd_abort(ctx: Context) -> int:
    by = ctx.args.requested_by or spec.operator()
    snapshot = actions.abort(
        ctx.aws,
        ctx.stack,
        ctx.args.id,
        by,
        ctx.args.reason or "",
        ctx.sleep,
        say=lambda text: ctx.err.write(text + "\n"),
    )
    ok = actions.abort_succeeded(snapshot)
    code = exits.OK if ok else exits.FAILED
    if ok:
        verdict = f"aborted switch {ctx.args.id}: traffic is back on the snapshot"
    elif snapshot.outcome == "SUCCEEDED":
        verdict = (
            f"too late: switch {ctx.args.id} had succeeded before the abort reached it; "
            f"to move traffic back: bluegreen rollback {ctx.args.id}"
        )
    else:
        verdict = f"switch {ctx.args.id} could not be aborted cleanly: see above and the runbook"
    ctx.emit(
        render.status(snapshot) + f"\n{verdict}\n",
        {**snapshot.as_dict(), "exitCode": code, "verdict": verdict},
    )
    return code


def cmd_rollback(ctx: Context) -> int:
    """Go back from a deployment: a new deployment to the previous release after it
    ended (never a replay of the old one), or settle one whose execution died."""
    by = ctx.args.requested_by or spec.operator()
    new_id = ctx.args.new_id or f"{ctx.args.id}-back-{actions.now_stamp()}"[:80]
    result = actions.rollback(ctx.aws, ctx.stack, ctx.args.id, by, new_id)
    if "settled" in result:
        settled = result["settled"]
        verdict = (
            f"settled {ctx.args.id}: {settled.get('status', settled.get('result'))} "
            f"({(settled.get('observed') or {}).get('detail', '')})"
        )
        ctx.emit(verdict, {**result, "exitCode": exits.OK})
        return exits.OK
    if ctx.args.watch:
        return exit_code(ctx.follow(new_id))
    ctx.emit(
        f"started deployment {new_id} back to the release before {ctx.args.id} "
        "(all at once, recorded and announced)\n"
        f"  follow it:  bluegreen status {new_id}",
        {**result, "exitCode": exits.OK},
    )
    return exits.OK


def cmd_history(ctx: Context) -> int:
    if ctx.args.id:
        found = actions.record_of(ctx.aws, ctx.stack, ctx.args.id)
        if found is None:
            raise CliError(
                f"no record for deployment {ctx.args.id}",
                "dry runs and refused requests leave none; list them with `bluegreen history`",
                exits.BAD_INPUT,
            )
        ctx.emit(render.record(found), found)
        return exits.OK
    records = actions.history(ctx.aws, ctx.stack, ctx.args.limit)
    ctx.emit(render.history(records), records)
    return exits.OK


COMMANDS: dict[str, Callable[[Context], int]] = {
    "deploy": cmd_deploy,
    "plan": cmd_plan,
    "status": cmd_status,
    "approve": cmd_approve,
    "abort": cmd_abort,
    "rollback": cmd_rollback,
    "history": cmd_history,
}


# -- the parser -------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where")
    where.add_argument(
        "--stack",
        default=os.environ.get("BLUEGREEN_STACK", "bluegreen"),
        help="the stack name given to sam deploy (default: %(default)s)",
    )
    where.add_argument("--profile", help="AWS profile")
    where.add_argument("--region", help="AWS region")
    where.add_argument(
        "--endpoint-url",
        default=os.environ.get("BLUEGREEN_ENDPOINT_URL"),
        help="an emulator, e.g. http://127.0.0.1:5005 (make server)",
    )
    output = common.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="JSON for machines")
    output.add_argument("--debug", action="store_true", help="show tracebacks")
    output.add_argument(
        "--interval", type=float, default=2.0, help="seconds between refreshes (default 2)"
    )

    top = argparse.ArgumentParser(
        prog="bluegreen",
        description="Drive blue/green switches of the bluegreen stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"bluegreen {_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    deploy = command("deploy", "start a switch from a spec file and/or flags")
    spec.add_request_flags(deploy)
    deploy.add_argument("--id", help="deployment id (default: <version>-<UTC time>)")
    deploy.add_argument("--watch", action="store_true", help="follow it until it ends")
    _through(deploy)

    plan = command("plan", "dry run: the plan the switch would follow; changes nothing")
    spec.add_request_flags(plan)

    status = command("status", "live view of a switch until it ends")
    status.add_argument("id", nargs="?", help="deployment id (default: the latest)")
    status.add_argument("--once", action="store_true", help="one snapshot, then exit")
    _through(status)

    approve = command("approve", "let a switch waiting for approval move traffic")
    approve.add_argument("id")
    approve.add_argument("--comment")
    approve.add_argument("--watch", action="store_true", help="follow it until it ends")
    approve.add_argument("--as", dest="requested_by", metavar="WHO")

    abort = command("abort", "stop a switch; the stack puts traffic back and records it")
    abort.add_argument("id")
    abort.add_argument("--reason")
    abort.add_argument("--as", dest="requested_by", metavar="WHO")

    rollback = command(
        "rollback", "go back from an ended deployment: a new deployment to the release before it"
    )
    rollback.add_argument("id")
    rollback.add_argument("--id", dest="new_id", help="the new deployment's id")
    rollback.add_argument("--watch", action="store_true", help="follow it until it ends")
    rollback.add_argument("--as", dest="requested_by", metavar="WHO")

    history = command("history", "recent deployments from the records (or one in full)")
    history.add_argument("id", nargs="?", help="show this deployment's record in full")
    history.add_argument("--limit", type=int, default=20)
    return top


def _version() -> str:
    try:
        return metadata.version("bluegreen")
    except metadata.PackageNotFoundError:  # run from the source tree, not installed
        return "(not installed)"


def _through(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--through-approval",
        action="store_true",
        help="keep following while it waits for approval (default: exit 5 there)",
    )


# -- entry point ------------------------------------------------------------------------------
def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    top = parser()
    try:
        args = top.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help is 0, a usage error is 2
        return int(exit_.code or 0)
    ctx = Context(args, out, err, sleep)
    actions.POLL = args.interval
    try:
        return COMMANDS[args.command](ctx)
    except CliError as error:
        _report(ctx, error, err)
        return error.code
    except KeyboardInterrupt:
        err.write("\nstopped following; the switch itself goes on (bluegreen status ID)\n")
        return 130
    except Exception as error:  # noqa: BLE001 - the CLI's last resort: say what, exit 1
        if args.debug:
            traceback.print_exc(file=err)
        _report(
            ctx,
            CliError(f"unexpected {type(error).__name__}: {error}", "run again with --debug"),
            err,
        )
        return exits.FAILED


def _report(ctx: Context, error: CliError, err: TextIO) -> None:
    if ctx.args.json:
        ctx.out.write(json.dumps(error.as_dict(), sort_keys=True) + "\n")
        return
    err.write(f"error: {error.message}\n")
    if error.hint:
        err.write(f"  what to do: {error.hint}\n")


def run() -> None:
    """Console entry point (`.venv/bin/bluegreen`)."""
    sys.exit(main())
