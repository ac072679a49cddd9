"""`make local-invoke`: every function in a real Lambda container, against the emulator.

    sudo make local-invoke     # root: installs docker.io/debootstrap, starts a dockerd

No registry can be reached, so the Lambda base image is built here: a Debian (trixie,
Python 3.13) root file system from Debian's packages, plus PyPI's `awslambdaric` as the
runtime interface client; SAM adds its Runtime Interface Emulator on top, as for the
public images. Steps:

1. a container engine: the running one, or Debian's dockerd started on a private socket
   (stopped again at the end);
2. the image `bluegreen/lambda-python:3.13` (built once, ~1 min);
3. `sam build` of a copy of template.yaml with the architecture set to this machine's
   (the code is pure Python; an arm64 container would need CPU emulation);
4. the emulated AWS served on 127.0.0.1 (`bluegreen_emulator`), with an EC2 fleet;
5. `sam local invoke` of every function with the chosen `events/*.json`, each result
   checked: an answer, or one of the project's named errors (never a crash). The
   functions reach the emulator at `AWS_ENDPOINT_URL=http://127.0.0.1:5005` inside their
   container: a relay there forwards to a Unix socket in the function's (mounted) folder,
   which the driver relays to the emulator on the host's loopback. No traffic leaves
   loopback, and the containers need no network at all.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import importlib
import json
import os
import platform
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "bluegreen/lambda-python:3.13"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
PIP = ROOT / ".venv" / "bin" / "pip"
RIC = ("awslambdaric==4.2.2", "boto3==1.44.5")  # the runtime client and the SDK Lambda ships
# One event of each kind by default (every function gets each); --events '*.json' for all
QUICK_EVENTS = (
    "alarm-state-change-guarded.json,codedeploy-AfterAllowTestTraffic.json,"
    "ecs-native-test-traffic.json,switch_request.json"
)
SOCKET = ".emulator.sock"  # in each function's build folder, which sam mounts at /var/task
BOOTSTRAP = f"""#!/bin/sh
# The Lambda runtime API client (awslambdaric, from PyPI) running the function's handler.
export PYTHONPATH="/var/runtime:/opt/python:${{LAMBDA_TASK_ROOT:-/var/task}}"
cd "${{LAMBDA_TASK_ROOT:-/var/task}}"
# Local testing only: the emulated AWS answers on this container's 127.0.0.1:5005 through
# a Unix socket the test driver put in the function's folder (no network between them).
if [ -S "{SOCKET}" ]; then /usr/bin/python3 /var/runtime/emulator_relay.py "{SOCKET}" 5005; fi
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
def build(work: Path) -> Path:
    arch = "x86_64" if platform.machine() in {"x86_64", "AMD64"} else "arm64"
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    template = work / "template.yaml"
    text = text.replace("arm64", arch)
    # sam local passes only the variables a function declares: declare the endpoint
    anchor = "        POWERTOOLS_SERVICE_NAME: bluegreen\n"
    if anchor not in text:
        raise RuntimeError("template.yaml Globals changed: cannot declare AWS_ENDPOINT_URL")
    text = text.replace(anchor, anchor + '        AWS_ENDPOINT_URL: ""\n', 1)
    template.write_text(text, encoding="utf-8")
    build_dir = work / "build"
    run(
        SAM,
        "build",
        "--template",
        template,
        "--base-dir",
        ROOT,
        "--build-dir",
        build_dir,
        env={**os.environ, "PYENV_VERSION": "3.13"},
        stdout=subprocess.DEVNULL,
    )
    return build_dir / "template.yaml"


# -- 4 and 5. the emulator, then every function with every event ------------------------------
def project_errors() -> set[str]:
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    import bluegreen
    from bluegreen.errors import BlueGreenError

    package = Path(bluegreen.__file__).parent
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    found, pending = set(), [BlueGreenError]
    while pending:
        kind = pending.pop()
        found.add(kind.__name__)
        pending += kind.__subclasses__()
    return found


class _Relay(socketserver.BaseRequestHandler):
    """One connection from a function's container, relayed to the emulator on 127.0.0.1."""

    target: tuple[str, int] = ("127.0.0.1", 5005)

    def handle(self) -> None:
        upstream = socket.create_connection(self.target)
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
    """A Unix socket in every function's build folder, relayed to the emulator's port."""
    _Relay.target = ("127.0.0.1", port)
    servers = []
    for folder in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        path = folder / SOCKET
        path.unlink(missing_ok=True)
        server = socketserver.ThreadingUnixStreamServer(str(path), _Relay)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def invoke_all(
    env: dict[str, str], built: Path, work: Path, functions_glob: str, events_glob: str
) -> int:
    from bluegreen_emulator import Emulator
    from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet
    from bluegreen_emulator.server import EmulatorServer

    allowed = project_errors()
    emulator = Emulator()
    server = EmulatorServer(emulator)
    server.start()
    failures = 0
    port = int(server.endpoint.rsplit(":", 1)[1])
    with server, relays(built.parent, port):
        build_ec2_fleet(emulator, with_http=False)
        endpoint = "http://127.0.0.1:5005"  # the relay inside each container
        variables = {
            spec.logical_id: {**spec.environment, "AWS_ENDPOINT_URL": endpoint}
            for spec in emulator.runtime.functions.values()
        }
        env_file = work / "env.json"
        env_file.write_text(json.dumps(variables), encoding="utf-8")
        sam_env = {
            **env,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": emulator.region,
            "SAM_CLI_TELEMETRY": "0",
        }
        events = sorted(
            {path for glob in events_glob.split(",") for path in (ROOT / "events").glob(glob)}
        )
        for logical_id in sorted(f for f in variables if fnmatch.fnmatch(f, functions_glob)):
            for event in events:
                started = time.monotonic()
                done = subprocess.run(  # noqa: S603
                    [
                        str(SAM),
                        "local",
                        "invoke",
                        logical_id,
                        "--template",
                        str(built),
                        "--event",
                        str(event),
                        "--env-vars",
                        str(env_file),
                        "--invoke-image",
                        IMAGE,
                        "--skip-pull-image",
                        "--region",
                        emulator.region,
                    ],
                    env=sam_env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                verdict, detail = _verdict(done, allowed)
                failures += verdict == "FAIL"
                print(
                    f"{verdict:4} {logical_id:36} {event.name:36} "
                    f"{time.monotonic() - started:5.1f}s  {detail}",
                    flush=True,
                )
    print(f"\n{failures} failed", flush=True)
    return 1 if failures else 0


def _verdict(done: subprocess.CompletedProcess[str], allowed: set[str]) -> tuple[str, str]:
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        return "FAIL", f"no JSON answer (exit {done.returncode}): {done.stderr[-300:]!r}"
    if isinstance(answer, dict) and "errorType" in answer:
        kind = str(answer["errorType"])
        if kind in allowed:
            return "ok", f"refused: {kind}: {str(answer.get('errorMessage'))[:80]}"
        return "FAIL", f"{kind}: {str(answer.get('errorMessage'))[:160]}"
    return "ok", f"answered {json.dumps(answer)[:80]}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bluegreen_localinvoke", description=__doc__)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "bluegreen-local-invoke"
    )
    parser.add_argument("--functions", default="*", help="logical ids to invoke (glob)")
    parser.add_argument(
        "--events",
        default=QUICK_EVENTS,
        help="events/ files to send (comma-separated globs; '*.json' for all, ~10 s each)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    with container_engine(args.work) as env:
        base_image(env, args.work)
        built = build(args.work)
        return invoke_all(env, built, args.work, args.functions, args.events)


if __name__ == "__main__":
    sys.exit(main())
