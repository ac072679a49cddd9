"""`python -m bluegreen_emulator serve|demo`: the emulated AWS from a shell.

serve  the stack deployed into an emulated account, served on http://127.0.0.1:5005
       (use it with `aws --endpoint-url` or boto3 `endpoint_url`) until Ctrl-C, with the
       example fleets deployed from examples/ (stacks shop-fleet, web-service, web-native);
       --stage-events also stages what every events/*.json file names (staging.py), for
       `sam local invoke -e events/<file>.json`
demo   deploy and run the demo switch (`make demo`)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .core.emulator import Emulator
from .demo import main as demo_main
from .fixtures.ec2_fleet import Ec2Fleet, build_ec2_fleet
from .fixtures.ecs_fleet import build_ecs_fleet
from .server import DEFAULT_HOST, DEFAULT_PORT, EmulatorServer, PortInUseError
from .staging import STAGED_PARAMETERS, stage_events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bluegreen_emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the emulated AWS on 127.0.0.1 until Ctrl-C")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    serve.add_argument(
        "--no-fleet",
        action="store_true",
        help="do not deploy the example fleets (examples/ec2-fleet, examples/ecs-service)",
    )
    serve.add_argument(
        "--scale",
        type=float,
        default=0.0,
        help="real seconds per emulated second for Wait states (default 0: no waiting)",
    )
    serve.add_argument(
        "--stage-events",
        action="store_true",
        help="also stage the deployments, services and switch every events/*.json names",
    )
    serve.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="template parameter"
    )
    commands.add_parser("demo", help="deploy and run the demo (extra arguments go to the demo)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        return demo_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.stage_events and args.no_fleet:
        parser.error("--stage-events needs the example fleets: drop --no-fleet")
    parameters = _parameters(parser, args.parameter)
    if args.stage_events:
        parameters = {**STAGED_PARAMETERS, **parameters}
    return _serve(args.port, not args.no_fleet, args.scale, parameters, args.stage_events)


def _parameters(parser: argparse.ArgumentParser, pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            parser.error(f"--parameter takes KEY=VALUE, got {pair!r}")
        values[key] = value
    return values


def _serve(
    port: int, with_fleet: bool, scale: float, parameters: dict[str, str], stage: bool = False
) -> int:
    emulator = Emulator(parameters=parameters, clock_scale=scale)
    server = EmulatorServer(emulator, host=DEFAULT_HOST, port=port)
    try:
        server.start()
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()  # SIGTERM (e.g. from a supervisor) stops like Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        shop, request_file = _build_fleet(emulator) if with_fleet else (None, None)
        staged = stage_events(emulator, shop) if stage else None
        for emulation in (emulator.codedeploy_emulation, emulator.ecs_emulation):
            emulation.background = True  # ECS deployments run on their own, on the clock
        print(server.describe(request_file))
        if staged is not None:
            print(f"\n{staged.describe()}")
        print("\nRunning until Ctrl-C.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        if staged is not None:
            staged.close()
    print("\nstopped")
    return 0


def _build_fleet(emulator: Emulator) -> tuple[Ec2Fleet, str]:
    """Deploy the example fleets from their templates (an EC2 fleet, an ECS service
    released by CodeDeploy, one released by ECS-native blue/green); print them and
    return the EC2 fleet and its canary request file."""
    fleet = build_ec2_fleet(emulator)
    folder = Path(tempfile.mkdtemp(prefix="bluegreen-"))
    path = folder / "switch-request.json"
    path.write_text(json.dumps(fleet.request(), indent=2), encoding="utf-8")
    services = {
        "codedeploy": build_ecs_fleet(emulator, name="web", mode="CODE_DEPLOY"),
        "ecs-native": build_ecs_fleet(emulator, name="api", mode="ECS", stack_name="web-native"),
    }
    files = {}
    for mode, service in services.items():
        request: dict[str, object] = {
            "platform": "ECS",
            "mode": mode,
            "cluster": service.cluster,
            "service": service.service,
            "taskDefinition": service.release,
            "container": {"name": "app", "port": 80},
            "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
            "alarms": service.alarms,
        }
        if service.application:
            request["codeDeploy"] = {
                "application": service.application,
                "deploymentGroup": service.deployment_group,
            }
        files[mode] = folder / f"switch-request-{mode}.json"
        files[mode].write_text(json.dumps(request, indent=2), encoding="utf-8")
    print(
        "The example fleets are deployed from examples/ (CloudFormation stacks shop-fleet,\n"
        "web-service, web-native):\n"
        f"  EC2 listener {fleet.listener_arn}\n"
        f"      blue     {fleet.blue_arn}\n"
        f"      green    {fleet.green_arn}\n"
        f"  a canary switch request for it: {path}\n"
        f"  ECS service web-cluster/web (CodeDeploy): {files['codedeploy']}\n"
        f"  ECS service api-cluster/api (ECS-native): {files['ecs-native']}\n"
    )
    return fleet, str(path)


if __name__ == "__main__":
    raise SystemExit(main())
