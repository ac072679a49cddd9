"""`bluegreen`: drive blue/green switches from a terminal or a CI job.

Each command is a small function `(args, ctx) -> exit code`; the actions and the
rendering live in their own modules. Exit codes: see `exits.py` (and the README).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from . import exits
from .exits import CliError

if TYPE_CHECKING:  # the AWS side (boto3) is imported by the commands that need it
    from .connect import Aws, Stack
    from .status import Snapshot

# `bluegreen --version` and `bluegreen <command> --help` import neither boto3 nor the
# request validator: the modules below are imported by the commands that use them.

EPILOG = """exit codes: 0 done/succeeded, 1 failed, 2 bad usage or input, 3 rolled back,
4 lock held, 5 waiting for approval, 6 still running (status --once)

environment: BLUEGREEN_STACK, BLUEGREEN_ENDPOINT_URL, BLUEGREEN_USER, BLUEGREEN_CLOCK_SCALE,
NO_COLOR, AWS_PROFILE, AWS_REGION"""


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
        from .connect import Aws, Target

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
        from .connect import discover

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
        from .status import collect
        from .watch import follow

        return follow(
            lambda: collect(self.aws, self.stack, deployment_id, self.args.clock_scale),
            self.out,
            interval=self.args.interval,
            tty=self.out.isatty() and not self.args.json,
            as_json=self.args.json,
            through_approval=through_approval,
            sleep=self.sleep,
            color=not self.args.no_color,
        )


# -- commands ---------------------------------------------------------------------------------
def cmd_deploy(ctx: Context) -> int:
    from . import actions, render, spec
    from .status import exit_code

    actions.POLL = ctx.args.interval
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
    from . import actions, render, spec

    actions.POLL = ctx.args.interval
    request = spec.build_request(ctx.args)
    spec.validate(request)
    planned = actions.plan(ctx.aws, ctx.stack, request, ctx.sleep)
    ctx.emit(render.plan(planned), planned)
    return exits.OK


def cmd_status(ctx: Context) -> int:
    from . import actions, render
    from .status import collect, exit_code

    deployment_id = ctx.args.id or actions.latest(ctx.aws, ctx.stack)
    if ctx.args.once:
        snapshot = collect(ctx.aws, ctx.stack, deployment_id, ctx.args.clock_scale)
        ctx.emit(render.status(snapshot), snapshot.as_dict())
        return exit_code(snapshot)
    return exit_code(ctx.follow(deployment_id, ctx.args.through_approval))


def cmd_approve(ctx: Context) -> int:
    return _answer_approval(ctx, "approve")


def cmd_reject(ctx: Context) -> int:
    return _answer_approval(ctx, "reject")


def _answer_approval(ctx: Context, verb: str) -> int:
    """approve / reject: the answer carries who (STS's identity, and --as), why, when."""
    from . import actions, spec
    from .status import exit_code

    name = ctx.args.requested_by or spec.operator()
    answer = getattr(actions, verb)(ctx.aws, ctx.stack, ctx.args.id, name, ctx.args.comment or "")
    if ctx.args.watch:
        return exit_code(ctx.follow(ctx.args.id, through_approval=True))
    done, then = {
        "approve": ("approved", "traffic moves on"),
        "reject": ("rejected", "it rolls back (no production traffic had moved)"),
    }[verb]
    ctx.emit(
        f"{done} switch {ctx.args.id} as {answer['by']} ({name}); {then}\n"
        f"  follow it:  bluegreen status {ctx.args.id}",
        {"deploymentId": ctx.args.id, "approval": answer, "exitCode": 0},
    )
    return exits.OK


def cmd_abort(ctx: Context) -> int:
    from . import actions, render, spec

    actions.POLL = ctx.args.interval
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
        verdict = (
            f"aborted switch {ctx.args.id}: traffic is back on the snapshot "
            f"(the switch is rolled back: `bluegreen status {ctx.args.id}` exits 3)"
        )
    elif snapshot.outcome == "SUCCEEDED":
        verdict = (
            f"too late: switch {ctx.args.id} had succeeded before the abort reached it; "
            f"to move traffic back: bluegreen rollback {ctx.args.id}"
        )
    else:
        verdict = f"switch {ctx.args.id} could not be aborted cleanly: see above and the runbook"
    # The view shows the switch; the exit code printed is this command's, the one it exits
    # with (0: the abort did what was asked), never the switch's own.
    ctx.emit(
        render.status(snapshot, exit_line=False)
        + f"\n{verdict}\n  exit code {code} ({exits.MEANING[code]}: the abort)\n",
        {**snapshot.as_dict(), "exitCode": code, "verdict": verdict},
    )
    return code


def cmd_rollback(ctx: Context) -> int:
    """Go back from a deployment: a new deployment to the previous release after it
    ended (never a replay of the old one), or settle one whose execution died."""
    from . import actions, spec
    from .status import exit_code

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
    from . import actions, render

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
    "reject": cmd_reject,
    "abort": cmd_abort,
    "rollback": cmd_rollback,
    "history": cmd_history,
}


# -- the parser -------------------------------------------------------------------------------
HELP = {
    "deploy": "start a switch from a spec file and/or flags",
    "plan": "dry run: the plan the switch would follow; changes nothing",
    "status": "live view of a switch until it ends",
    "approve": "let a switch waiting for approval move traffic (as the stack's approver role)",
    "reject": "refuse a switch waiting for approval: it rolls back (as the approver role)",
    "abort": "stop a switch; the stack puts traffic back and records it",
    "rollback": "go back from an ended deployment: a new deployment to the release before it",
    "history": "recent deployments from the records (or one in full)",
}


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, the arguments of that command alone are declared
    (the others keep their name and help), so a command starts without importing what
    the others need."""
    top = argparse.ArgumentParser(
        prog="bluegreen",
        description="Drive blue/green switches of the bluegreen stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"bluegreen {_version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common()
    for name, help_text in HELP.items():
        command = sub.add_parser(
            name,
            parents=[common],
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if only is None or only == name:
            _ARGUMENTS[name](command)
    return top


def subcommand(top: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise KeyError(name)


def _common() -> argparse.ArgumentParser:
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
    output.add_argument(
        "--no-color", action="store_true", help="no colour in a terminal (also: NO_COLOR set)"
    )
    output.add_argument(
        "--clock-scale",
        type=float,
        default=_scale_from_env(),
        metavar="S",
        help="real seconds per state machine second: an emulator's --scale (env "
        "BLUEGREEN_CLOCK_SCALE); default: read from the waits that ended, else 1 (AWS)",
    )
    return common


def _scale_from_env() -> float | None:
    raw = os.environ.get("BLUEGREEN_CLOCK_SCALE", "")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _deploy_arguments(deploy: argparse.ArgumentParser) -> None:
    from . import spec

    spec.add_request_flags(deploy)
    deploy.add_argument("--id", help="deployment id (default: <version>-<UTC time>)")
    deploy.add_argument("--watch", action="store_true", help="follow it until it ends")
    _through(deploy)


def _plan_arguments(plan: argparse.ArgumentParser) -> None:
    from . import spec

    spec.add_request_flags(plan)


def _status_arguments(status: argparse.ArgumentParser) -> None:
    status.add_argument("id", nargs="?", help="deployment id (default: the latest)")
    status.add_argument("--once", action="store_true", help="one snapshot, then exit")
    _through(status)


def _approve_arguments(approve: argparse.ArgumentParser) -> None:
    approve.add_argument("id")
    approve.add_argument("--comment", help="why: kept in the record with who and when")
    approve.add_argument("--watch", action="store_true", help="follow it until it ends")
    approve.add_argument(
        "--as", dest="requested_by", metavar="WHO", help="your name (the record keeps STS's too)"
    )


def _abort_arguments(abort: argparse.ArgumentParser) -> None:
    abort.add_argument("id")
    abort.add_argument("--reason")
    abort.add_argument("--as", dest="requested_by", metavar="WHO")


def _rollback_arguments(rollback: argparse.ArgumentParser) -> None:
    rollback.add_argument("id")
    rollback.add_argument("--id", dest="new_id", help="the new deployment's id")
    rollback.add_argument("--watch", action="store_true", help="follow it until it ends")
    rollback.add_argument("--as", dest="requested_by", metavar="WHO")


def _history_arguments(history: argparse.ArgumentParser) -> None:
    history.add_argument("id", nargs="?", help="show this deployment's record in full")
    history.add_argument("--limit", type=int, default=20)


_ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "deploy": _deploy_arguments,
    "plan": _plan_arguments,
    "status": _status_arguments,
    "approve": _approve_arguments,
    "reject": _approve_arguments,
    "abort": _abort_arguments,
    "rollback": _rollback_arguments,
    "history": _history_arguments,
}


def _command_in(argv: Sequence[str]) -> str | None:
    """The command the arguments name (the first word that is one), if any."""
    return next((word for word in argv if word in HELP), None)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse; a flag the command does not know is refused with that command's usage
    (and the flag it most likely meant), not the top-level usage."""
    wanted = _command_in(argv)
    top = parser(only=wanted or "")  # no command named: none of their arguments
    args, extra = top.parse_known_args(argv)
    if extra:
        command = subcommand(top, args.command)
        known = [o for a in command._actions for o in a.option_strings]
        hints = [
            f"{word}: did you mean {close[0]}?"
            for word in extra
            if word.startswith("-")
            and (close := difflib.get_close_matches(word.split("=", 1)[0], known, n=1))
        ]
        message = f"unrecognized arguments: {' '.join(extra)}"
        command.error("; ".join([message, *hints]))
    return args


def _version() -> str:
    from importlib import metadata

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
    try:
        args = _parse(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exit_:  # argparse: --help is 0, a usage error is 2
        return int(exit_.code or 0)
    ctx = Context(args, out, err, sleep)
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
