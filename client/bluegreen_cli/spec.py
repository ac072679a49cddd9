"""A switch request from a spec file (JSON or YAML) and command-line flags.

Flags override the file's fields. The result is checked with the same validator the
state machine's first state runs (`bluegreen.requests.parse_request`), so a typo
is refused here, naming the field, before anything is started.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from bluegreen.errors import InvalidInput
from bluegreen.requests import parse_request

from .exits import BAD_INPUT, CliError

_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def add_request_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help="switch request file (JSON or YAML); '-' = stdin")
    parser.add_argument("--listener", action="append", metavar="ARN", help="production listener")
    parser.add_argument("--rule", action="append", metavar="ARN", help="production listener rule")
    parser.add_argument("--blue", metavar="ARN", help="target group live now (traffic moves off)")
    parser.add_argument("--green", metavar="ARN", help="target group traffic moves to")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--canary", metavar="PERCENT[:BAKE]", help="e.g. 10:300")
    how.add_argument("--linear", metavar="STEP[:BAKE]", help="e.g. 25:60")
    how.add_argument("--steps", metavar="P1,P2,...[:BAKE]", help="e.g. 5,25,100:120")
    how.add_argument("--all-at-once", action="store_true", help="100%% in one step")
    parser.add_argument("--alarm", action="append", metavar="NAME", help="guarding alarm")
    parser.add_argument("--min-healthy", type=int, metavar="N", help="healthy targets needed")
    parser.add_argument(
        "--require-approval", action="store_true", help="wait for `bluegreen approve`"
    )
    parser.add_argument(
        "--fleet-checks",
        choices=("warn", "enforce"),
        help="enforce: refuse an unsafe idle target group (EC2; default warn)",
    )
    parser.add_argument("--version", dest="release", metavar="TEXT", help="release label")
    parser.add_argument("--description", metavar="TEXT")
    parser.add_argument("--requested-by", metavar="WHO", help="default: $BLUEGREEN_USER/CI user")


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """The request from the spec file and the flags (not yet validated)."""
    request: dict[str, Any] = _load(args.spec) if args.spec else {"platform": "EC2"}
    for flag, key in (
        ("listener", "listeners"),
        ("rule", "rules"),
        ("blue", "blueTargetGroupArn"),
        ("green", "greenTargetGroupArn"),
        ("alarm", "alarms"),
        ("release", "version"),
        ("description", "description"),
    ):
        if getattr(args, flag):
            request[key] = getattr(args, flag)
    strategy = _strategy(args)
    if strategy is not None:
        request["strategy"] = strategy
    if args.min_healthy is not None:
        request["healthCheck"] = {**request.get("healthCheck", {}), "minHealthy": args.min_healthy}
    if args.require_approval:
        request["approval"] = {**request.get("approval", {}), "required": True}
    if args.fleet_checks:
        request["fleetChecks"] = args.fleet_checks
    request["requestedBy"] = args.requested_by or request.get("requestedBy") or operator()
    return request


def validate(request: dict[str, Any]) -> dict[str, Any]:
    """The normalised request, or a CliError naming the field (exit 2)."""
    try:
        return parse_request(request)
    except InvalidInput as wrong:
        raise CliError(
            f"invalid request: {wrong}",
            "fix the field in the spec file or flags; `bluegreen plan` checks a request "
            "against the live load balancer without changing anything",
            BAD_INPUT,
        ) from None


def operator() -> str:
    """Who is acting: $BLUEGREEN_USER, the CI user, or the local user."""
    for variable in ("BLUEGREEN_USER", "GITLAB_USER_LOGIN", "GITHUB_ACTOR"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def deployment_id(given: str | None, request: dict[str, Any], now: str) -> str:
    """The deployment id (the execution's name): given, or `<version>-<time>`."""
    if given:
        if not _ID.match(given):
            raise CliError(
                f"deployment id {given!r} is not usable as an execution name",
                "use 1-80 letters, digits, '-' or '_'",
                BAD_INPUT,
            )
        return given
    label = re.sub(r"[^A-Za-z0-9_-]+", "-", str(request.get("version") or "switch")).strip("-")
    return f"{label or 'switch'}-{now}"[:80]


def _load(path: str) -> dict[str, Any]:
    try:
        text = os.fdopen(os.dup(0)).read() if path == "-" else Path(path).read_text("utf-8")
    except OSError as error:
        raise CliError(
            f"cannot read the spec file {path}: {error.strerror}",
            "give the path of a JSON or YAML switch request",
            BAD_INPUT,
        ) from None
    try:
        loaded = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise CliError(
            f"the spec file {path} is not valid {'JSON' if path.endswith('.json') else 'YAML'}: "
            f"{str(error).splitlines()[0]}",
            "fix its syntax (files not named *.json are read as YAML, a superset of JSON)",
            BAD_INPUT,
        ) from None
    if not isinstance(loaded, dict):
        raise CliError(
            f"the spec file {path} must hold one object (a switch request)",
            "see examples in the README (Operating it: the bluegreen CLI)",
            BAD_INPUT,
        )
    return loaded


def _strategy(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.all_at_once:
        return {"type": "all-at-once"}
    if args.canary:
        percent, bake = _number_and_bake(args.canary, "--canary")
        return {"type": "canary", "percent": percent, "bakeSeconds": bake}
    if args.linear:
        step, bake = _number_and_bake(args.linear, "--linear")
        return {"type": "linear", "stepPercent": step, "stepBakeSeconds": bake}
    if args.steps:
        percents, _, bake = args.steps.partition(":")
        try:
            values = [int(p) for p in percents.split(",")]
            seconds = int(bake) if bake else 0
        except ValueError:
            raise CliError(
                f"--steps {args.steps!r}: expected P1,P2,...[:BAKE] with whole numbers",
                "e.g. --steps 5,25,100:120",
                BAD_INPUT,
            ) from None
        return {"type": "steps", "steps": [{"percent": p, "bakeSeconds": seconds} for p in values]}
    return None


def _number_and_bake(text: str, flag: str) -> tuple[int, int]:
    number, _, bake = text.partition(":")
    try:
        return int(number), int(bake) if bake else 300
    except ValueError:
        raise CliError(
            f"{flag} {text!r}: expected PERCENT[:BAKE_SECONDS] with whole numbers",
            f"e.g. {flag} 10:300",
            BAD_INPUT,
        ) from None
