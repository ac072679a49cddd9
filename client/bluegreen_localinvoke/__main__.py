"""`make local-invoke`: each function, with its own events files, in a real Lambda container.

    sudo make local-invoke                       # root: installs docker.io/debootstrap
    sudo make local-invoke ARGS="--events '*.json'"
    python -m bluegreen_localinvoke serve        # the staged AWS, for your own sam local invoke

No registry can be reached, so the Lambda base image is built here: a Debian (trixie,
Python 3.13) root file system from Debian's packages, plus PyPI's `awslambdaric` as the
runtime interface client; SAM adds its Runtime Interface Emulator on top, as for the
public images. Steps:

1. a container engine: the running one, or Debian's dockerd started on a private socket
   (stopped again at the end);
2. the image `bluegreen/lambda-python:3.13` (built once, ~1 min);
3. `sam build --parameter-overrides Architecture=<this machine's>` of template.yaml (an
   arm64 container on an x86_64 machine would need CPU emulation);
4. the staged emulated AWS served on 127.0.0.1 (`bluegreen_emulator.staging`: what every
   events file names, waiting for it);
5. `sam local invoke <function> -e events/<file>.json --env-vars env.json` for each file
   of the table (`staging.EXPECTED`: file -> function -> expected answer), judged by the
   answer *and* the emulator's record of it: a refusal fails unless it is the expected
   answer. The image's bootstrap points the SDK at the emulator
   (`AWS_ENDPOINT_URL=http://127.0.0.1:5005`) when the emulator's socket is in the
   function's (mounted) folder, and relays that port to it; the driver relays the socket
   to the emulator on the host's loopback. A hook that probes its fleet's test listener
   reaches it at the host's Docker bridge address (`--add-host <ALB DNS name>:172.17.0.1`),
   where the driver forwards each request to the emulated ALB its Host names (the port
   8080 inside a container is the Runtime Interface Emulator's). Nothing leaves the host.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bluegreen_emulator import Emulator
from bluegreen_emulator.server import EmulatorServer
from bluegreen_emulator.staging import (
    DOCKER_GATEWAY,
    ENV_FILE,
    EXPECTED,
    PROBED,
    STAGED_PARAMETERS,
    Staged,
    env_vars,
    event_payload,
    stage_events,
)

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "bluegreen/lambda-python:3.13"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
PIP = ROOT / ".venv" / "bin" / "pip"
RIC = ("awslambdaric==4.2.2", "boto3==1.44.5")  # the runtime client and the SDK Lambda ships
# One file of each kind by default; --events '*.json' for every file of the table
QUICK_EVENTS = (
    "alarm-state-change-guarded.json,codedeploy-AfterAllowTestTraffic.json,"
    "ecs-native-test-traffic.json,switch_request_ecs_codedeploy.json"
)
SOCKET = ".emulator.sock"  # in each function's build folder, which sam mounts at /var/task
GATEWAY_FORMAT = "{{range .IPAM.Config}}{{.Gateway}}{{end}}"
BOOTSTRAP = f"""#!/bin/sh
# The Lambda runtime API client (awslambdaric, from PyPI) running the function's handler.
export PYTHONPATH="/var/runtime:/opt/python:${{LAMBDA_TASK_ROOT:-/var/task}}"
cd "${{LAMBDA_TASK_ROOT:-/var/task}}"
# Local testing only: the emulated AWS answers on this container's 127.0.0.1:5005 through
# a Unix socket the test driver put in the function's folder (no network between them).
if [ -S "{SOCKET}" ]; then
  /usr/bin/python3 /var/runtime/emulator_relay.py "{SOCKET}" 5005
  export AWS_ENDPOINT_URL=http://127.0.0.1:5005
fi
exec /usr/bin/python3 -m awslambdaric "$_HANDLER"
"""
RELAY = """import os, socket, sys, threading
path, port = sys.argv[1], int(sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(64)
if os.fork():  # the parent returns once the port listens; the child relays
    sys.exit(0)
def pump(source, target):
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(client):
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(path)
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    pump(upstream, client)
while True:
    client, _ = server.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
"""


def run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=True, text=True, **kwargs)  # noqa: S603


def succeeds(*args: str, env: dict[str, str] | None = None) -> bool:
    """Whether a command exits 0 (its output discarded)."""
    done = subprocess.run(list(args), env=env, capture_output=True, check=False)  # noqa: S603
    return done.returncode == 0


# -- 1. the container engine ---------------------------------------------------------------
@contextlib.contextmanager
def container_engine(work: Path) -> Iterator[dict[str, str]]:
    """DOCKER_HOST of a working engine; starts Debian's dockerd when there is none."""
    if shutil.which("dockerd") is None or shutil.which("debootstrap") is None:
        run(
            "apt-get",
            "install",
            "-y",
            "-qq",
            "docker.io",
            "debootstrap",
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    env = dict(os.environ)
    if succeeds("docker", "info"):
        yield env
        return
    socket = work / "docker.sock"
    log = (work / "dockerd.log").open("w")
    daemon = subprocess.Popen(  # noqa: S603
        [  # noqa: S607
            "dockerd",
            "--data-root",
            str(work / "root"),
            "--exec-root",
            str(work / "exec"),
            "--pidfile",
            str(work / "dockerd.pid"),
            "-H",
            f"unix://{socket}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    env["DOCKER_HOST"] = f"unix://{socket}"
    try:
        for _ in range(60):
            if succeeds("docker", "info", env=env):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"dockerd did not start; see {work / 'dockerd.log'}")
        yield env
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


# -- 2. the base image -----------------------------------------------------------------------
def base_image(env: dict[str, str], work: Path) -> None:
    if succeeds("docker", "image", "inspect", IMAGE, env=env):
        return
    rootfs = work / "rootfs"
    print(f"building {IMAGE} from Debian packages and PyPI's awslambdaric ...", flush=True)
    run(
        "debootstrap",
        "--variant=minbase",
        "--include=python3,ca-certificates",
        "trixie",
        rootfs,
        "http://deb.debian.org/debian",
        stdout=subprocess.DEVNULL,
    )
    machine = platform.machine()
    run(
        PIP,
        "install",
        "--quiet",
        "--no-cache-dir",
        "--target",
        rootfs / "var/runtime",
        "--only-binary=:all:",
        "--python-version",
        "3.13",
        "--implementation",
        "cp",
        "--platform",
        f"manylinux2014_{machine}",
        "--platform",
        f"manylinux_2_17_{machine}",
        *RIC,
    )
    (rootfs / "var/runtime/emulator_relay.py").write_text(RELAY, encoding="utf-8")
    bootstrap = rootfs / "var/runtime/bootstrap"
    bootstrap.write_text(BOOTSTRAP, encoding="utf-8")
    bootstrap.chmod(0o755)
    (rootfs / "var/task").mkdir(parents=True, exist_ok=True)
    changes = [
        "ENV LAMBDA_TASK_ROOT=/var/task",
        "ENV LAMBDA_RUNTIME_DIR=/var/runtime",
        "ENV LANG=C.UTF-8",
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
        "WORKDIR /var/task",
        'ENTRYPOINT ["/var/runtime/bootstrap"]',
    ]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)  # noqa: S603, S607
    flags = [part for change in changes for part in ("--change", change)]
    run(
        "docker", "import", *flags, "-", IMAGE, stdin=tar.stdout, env=env, stdout=subprocess.DEVNULL
    )
    tar.wait()


# -- 3. sam build ----------------------------------------------------------------------------
def architecture() -> str:
    return "x86_64" if platform.machine() in {"x86_64", "AMD64"} else "arm64"


def build(work: Path) -> Path:
    """`sam build` of template.yaml for this machine's architecture; the built template."""
    build_dir = work / "build"
    run(
        SAM,
        "build",
        "--template",
        ROOT / "template.yaml",
        "--build-dir",
        build_dir,
        "--parameter-overrides",
        f"Architecture={architecture()}",
        env={**os.environ, "PYENV_VERSION": "3.13"},
        stdout=subprocess.DEVNULL,
    )
    return build_dir / "template.yaml"


# -- 4. the staged emulator, relayed into every function's folder ----------------------------
class _Relay(socketserver.BaseRequestHandler):
    """One connection from a function's container, relayed to a port on 127.0.0.1."""

    def handle(self) -> None:
        target = self.server.target  # type: ignore[attr-defined]
        upstream = socket.create_connection(("127.0.0.1", target()))
        threading.Thread(target=_pump, args=(self.request, upstream), daemon=True).start()
        _pump(upstream, self.request)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def relays(build_dir: Path, port: int) -> Iterator[None]:
    """The emulator's socket in every function's build folder."""
    servers = []
    for folder in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        path = folder / SOCKET
        path.unlink(missing_ok=True)
        server = socketserver.ThreadingUnixStreamServer(str(path), _Relay)
        server.daemon_threads = True
        server.target = lambda: port  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
            Path(server.server_address).unlink(missing_ok=True)  # type: ignore[arg-type]


@contextlib.contextmanager
def alb_proxies(aws: Emulator) -> Iterator[None]:
    """The probed test listeners at DOCKER_GATEWAY:<port>, each request forwarded to the
    emulated listener its Host header names."""
    servers = []
    for port in sorted(set(PROBED.values())):
        try:
            server = ThreadingHTTPServer((DOCKER_GATEWAY, port), _alb_handler(aws, port))
        except OSError as error:
            print(f"warning: {DOCKER_GATEWAY}:{port} ({error}): hooks cannot probe", flush=True)
            continue
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _alb_handler(aws: Emulator, port: int) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0]
            local = aws.alb_http.resolve(host, port)
            if local is None:
                self.send_error(502, f"no emulated listener {host}:{port}")
                return
            upstream = http.client.HTTPConnection("127.0.0.1", local, timeout=30)
            upstream.request("GET", self.path, headers=dict(self.headers.items()))
            answer = upstream.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in {"content-length", "connection", "transfer-encoding"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    return Forward


def add_hosts(staged: Staged) -> list[str]:
    """`--add-host` arguments: the probed ALBs' names resolve to the host's bridge address."""
    names = sorted({staged.services[EXPECTED[name].fleet].dns_name for name in PROBED})
    return [part for name in names for part in ("--add-host", f"{name}:{DOCKER_GATEWAY}")]


# -- 5. each function with its own events files, judged -------------------------------------
@dataclass
class Outcome:
    function: str
    event: str
    passed: bool
    seconds: float
    detail: str


@dataclass
class Invoker:
    env: dict[str, str]
    built: Path
    work: Path
    staged: Staged
    outcomes: list[Outcome] = field(default_factory=list)

    def command(self, function: str, event: Path) -> list[str]:
        return [
            str(SAM),
            "local",
            "invoke",
            function,
            "--template",
            str(self.built),
            "--event",
            str(event),
            "--env-vars",
            str(ENV_FILE),
            "--parameter-overrides",
            f"Architecture={architecture()}",
            "--invoke-image",
            IMAGE,
            "--skip-pull-image",
            "--region",
            self.staged.aws.region,
            *add_hosts(self.staged),
        ]

    def invoke(self, name: str) -> Outcome:
        function = EXPECTED[name].function
        event = ROOT / "events" / name
        if function == "PlanFunction":  # a switch request, as the state machine passes it
            event = self.work / name
            event.write_text(json.dumps(event_payload(name)), encoding="utf-8")
        before = self.staged.observe()
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603
            self.command(function, event),
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        answer = last_json(done.stdout)
        if answer is None:
            answer = f"no JSON answer (exit {done.returncode}): {done.stderr[-300:]!r}"
        passed, detail = self.staged.judge(name, answer, before, self.staged.observe())
        outcome = Outcome(function, name, passed, seconds, detail)
        self.outcomes.append(outcome)
        print(
            f"{'PASS' if passed else 'FAIL'}  {function:34} {name:42} {seconds:5.1f}s  {detail}",
            flush=True,
        )
        return outcome


def last_json(stdout: str) -> Any:
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None


def chosen(functions_glob: str, events_glob: str) -> list[str]:
    """The table's files matching the globs, the guarded alarm last (it ends the canary)."""
    globs = events_glob.split(",")
    names = [
        name
        for name, expect in EXPECTED.items()
        if any(fnmatch.fnmatch(name, g) for g in globs)
        and fnmatch.fnmatch(expect.function, functions_glob)
    ]
    return sorted(names, key=lambda name: name == "alarm-state-change-guarded.json")


def summary(outcomes: list[Outcome]) -> str:
    lines = ["", f"{'function':34} {'passed':>7} {'mean s':>7} {'max s':>6}"]
    for function in sorted({o.function for o in outcomes}):
        mine = [o for o in outcomes if o.function == function]
        times = [o.seconds for o in mine]
        passed = sum(o.passed for o in mine)
        lines.append(
            f"{function:34} {passed:>3}/{len(mine):<3} {sum(times) / len(times):7.1f} "
            f"{max(times):6.1f}"
        )
    times = [o.seconds for o in outcomes]
    failed = sum(not o.passed for o in outcomes)
    lines.append(
        f"{'total':34} {len(outcomes) - failed:>3}/{len(outcomes):<3} "
        f"{sum(times) / max(len(times), 1):7.1f} {max(times, default=0):6.1f}"
        f"   {sum(times):.0f} s in all, {failed} failed"
    )
    return "\n".join(lines)


@contextlib.contextmanager
def staged_aws(build_dir: Path) -> Iterator[tuple[Staged, str]]:
    """The staged emulated AWS on 127.0.0.1:5005 (relayed into `build_dir`'s folders)."""
    emulator = Emulator(parameters=STAGED_PARAMETERS)
    server = EmulatorServer(emulator)
    server.start()
    staged = stage_events(emulator)
    if env_vars(emulator) != json.loads(ENV_FILE.read_text(encoding="utf-8")):
        raise RuntimeError(f"{ENV_FILE} is not what the emulated stack deployed")
    for emulation in (emulator.codedeploy_emulation, emulator.ecs_emulation):
        emulation.background = True
    port = int(server.endpoint.rsplit(":", 1)[1])
    try:
        with server, relays(build_dir, port), alb_proxies(emulator):
            yield staged, server.endpoint
    finally:
        staged.close()


def invoke_all(env: dict[str, str], built: Path, work: Path, functions: str, events: str) -> int:
    sam_env = {
        **env,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SAM_CLI_TELEMETRY": "0",
    }
    gateway = subprocess.run(  # noqa: S603
        ["docker", "network", "inspect", "bridge", "--format", GATEWAY_FORMAT],  # noqa: S607
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if gateway != DOCKER_GATEWAY:
        print(
            f"warning: Docker's bridge gateway is {gateway or 'unknown'}, not {DOCKER_GATEWAY}:"
            " the probing hooks cannot reach their test listener",
            flush=True,
        )
    with staged_aws(built.parent) as (staged, _endpoint):
        invoker = Invoker(sam_env, built, work, staged)
        for name in chosen(functions, events):
            invoker.invoke(name)
    print(summary(invoker.outcomes), flush=True)
    return 1 if not invoker.outcomes or any(not o.passed for o in invoker.outcomes) else 0


def serve(build_dir: Path) -> int:
    """The staged AWS for a person's own `sam local invoke` (after `sam build`)."""
    with staged_aws(build_dir) as (staged, endpoint):
        print(f"Staged emulated AWS on {endpoint}, relayed into {build_dir}/*/\n")
        print(staged.describe())
        print(f"\nsam local invoke ... --env-vars {ENV_FILE.name} {' '.join(add_hosts(staged))}")
        print("\nRunning until Ctrl-C.", flush=True)
        stop = threading.Event()  # SIGTERM (e.g. from a supervisor) stops like Ctrl-C
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bluegreen_localinvoke", description=__doc__)
    parser.add_argument("command", nargs="?", choices=["all", "serve", "image"], default="all")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "bluegreen-local-invoke"
    )
    parser.add_argument("--functions", default="*", help="logical ids to invoke (glob)")
    parser.add_argument(
        "--events",
        default=QUICK_EVENTS,
        help="events/ files to send (comma-separated globs; '*.json' for every file)",
    )
    parser.add_argument(
        "--build-dir", type=Path, default=ROOT / ".aws-sam" / "build", help="for serve"
    )
    parser.add_argument(
        "--no-build", action="store_true", help="reuse the last sam build in --work"
    )
    args = parser.parse_args()
    if args.command == "serve":
        return serve(args.build_dir)
    args.work.mkdir(parents=True, exist_ok=True)
    with container_engine(args.work) as env:
        base_image(env, args.work)
        if args.command == "image":
            return 0
        built = args.work / "build" / "template.yaml"
        if not (args.no_build and built.is_file()):
            built = build(args.work)
        return invoke_all(env, built, args.work, args.functions, args.events)


if __name__ == "__main__":
    sys.exit(main())
