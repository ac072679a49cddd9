"""An in-process Lambda runtime for the functions the template declares.

Invoking a function imports its real handler from its `CodeUri` (once: that is the cold
start), with its layers importable and exactly the environment the template gives it,
then calls it with a Lambda-shaped context. Functions share the process but not their
modules (each `app.py` is loaded under its own name) nor their environment (applied for
the duration of one invocation, then restored). What a function prints goes to its
CloudWatch Logs group in the emulated account, as on AWS.

Invocations run concurrently, like Lambda's: each sees its own environment, because
`os.environ` is replaced by a mapping whose reads and writes on an invoking thread go
to that invocation's overlay (`ThreadLocalEnviron`). A global lock would deadlock as
soon as a function calls an emulated service that is itself waiting on a function
(CodeDeploy waiting on a hook while the switch stops the deployment).

Each invocation runs on its own timeline of the emulated clock (core/clock.py): the
context's remaining time counts emulated time, and a wait that reaches the function's
`Timeout` kills the sandbox: the invocation ends `Sandbox.Timedout`, as Lambda reports
it, and every AWS call the function would still make is refused. A synchronous caller
(a Step Functions task, another function) spends the callee's time waiting for it.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from ..core import clock as clocks
from ..core import identity
from ..core.clock import Clock, InvocationTimeline, SandboxTimedOut


@dataclass
class FunctionSpec:
    """One function of the template, as deployed into the emulator."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    layer_dirs: list[Path] = field(default_factory=list)
    timeout: int = 30
    memory: int = 128
    role_arn: str | None = None  # the execution role its calls are authorized as
    module: ModuleType | None = None
    invocations: int = 0
    cold_starts: int = 0


@dataclass
class Invocation:
    """What one invocation returned: the payload and, on failure, the error type.

    `duration_ms` is the real time it took (what the benchmarks measure), `emulated_ms`
    the emulated time (what Lambda would bill and what its timeout counts), `started_at`
    the emulated time it began (core/clock.py `Clock.now`)."""

    function: str
    payload: bytes
    error_type: str | None
    duration_ms: float
    request_id: str
    emulated_ms: float = 0.0
    started_at: float = 0.0

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


class LambdaContext:
    """The attributes of the AWS Lambda context object that handlers use; the remaining
    time counts the invocation's emulated time."""

    def __init__(self, spec: FunctionSpec, request_id: str, timeline: InvocationTimeline) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"emulated/{request_id}"
        self._timeline = timeline

    def get_remaining_time_in_millis(self) -> int:
        return int((self._timeline.remaining() or 0.0) * 1000)


# Which buffer the current thread's output goes to, shared by every router ever
# installed: a test runner may swap sys.stdout between emulators, and a logging handler
# created by an earlier cold start (Powertools keeps one per service) still holds the
# router of its day. One process-wide routing table keeps all of them pointing right.
_ROUTING = threading.local()


class _ThreadRoutedStream(io.TextIOBase):
    """sys.stdout/sys.stderr stand-in: writes from an invoking thread go to its buffer."""

    def __init__(self, real: TextIO) -> None:
        self._real = real
        self._local = _ROUTING

    def write(self, text: str) -> int:
        buffer = getattr(self._local, "buffer", None)
        if buffer is not None:
            return int(buffer.write(text))
        return self._real.write(text)

    def flush(self) -> None:
        if getattr(self._local, "buffer", None) is None:
            self._real.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


_CONSOLES: list[Any] = []  # every stream that was sys.stdout/sys.stderr when we wrapped it


def _route_console_output() -> None:
    """Send what a function prints or logs to its invocation's buffer.

    Puts a router over sys.stdout/sys.stderr when they are not one (a test runner swaps
    them between test phases), and over the stream of every plain logging.StreamHandler
    that writes to a console stream: Powertools' handler is created once per process, on
    the first cold start, and reused by every later one, whatever sys.stdout is by then.
    Outside an invocation a router writes through, so nothing else changes.
    """
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if not isinstance(current, _ThreadRoutedStream):
            if not any(current is known for known in _CONSOLES):
                _CONSOLES.append(current)
            setattr(sys, name, _ThreadRoutedStream(current))
    consoles = [*_CONSOLES, sys.__stdout__, sys.__stderr__]
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if type(handler) is logging.StreamHandler and any(
                handler.stream is console for console in consoles
            ):
                handler.setStream(_ThreadRoutedStream(handler.stream))


LogSink = Callable[[FunctionSpec, str, str], None]


_DELETED: Any = object()


class ThreadLocalEnviron(MutableMapping[str, str]):
    """`os.environ` with a per-thread overlay: an invocation's environment is its own.

    Outside an invocation it is the process environment. Inside one, reads see the
    function's variables over the process environment, and writes stay in the overlay
    (gone when the invocation ends), as a Lambda sandbox's environment would.
    """

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self._local = threading.local()

    @property
    def overlay(self) -> dict[str, Any] | None:
        return getattr(self._local, "overlay", None)

    @overlay.setter
    def overlay(self, value: dict[str, Any] | None) -> None:
        self._local.overlay = value

    def __getitem__(self, key: str) -> str:
        overlay = self.overlay
        if overlay is not None and key in overlay:
            value = overlay[key]
            if value is _DELETED:
                raise KeyError(key)
            return str(value)
        return self.base[key]

    # `in` and get() are what botocore asks most (each client and each request reads a
    # dozen variables, most unset): answered directly, not through a raised KeyError
    def __contains__(self, key: object) -> bool:
        overlay = self.overlay
        if overlay is not None and key in overlay:
            return overlay[key] is not _DELETED
        return key in self.base

    def get(self, key: str, default: Any = None) -> Any:
        overlay = self.overlay
        if overlay is not None and key in overlay:
            value = overlay[key]
            return default if value is _DELETED else str(value)
        return self.base.get(key, default)

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self.overlay
        if overlay is None:
            self.base[key] = value
        else:
            overlay[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self.overlay
        if overlay is None:
            del self.base[key]
            return
        if key not in self:
            raise KeyError(key)
        overlay[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        overlay = self.overlay or {}
        seen = set()
        for key in list(self.base):
            if overlay.get(key) is not _DELETED:
                seen.add(key)
                yield key
        for key, value in list(overlay.items()):
            if key not in seen and value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)


def install_thread_local_environ() -> ThreadLocalEnviron:
    """Replace os.environ (once per process) by a ThreadLocalEnviron over the original."""
    if not isinstance(os.environ, ThreadLocalEnviron):
        os.environ = ThreadLocalEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003
    return os.environ  # type: ignore[return-value]


# Threads a function starts (a ThreadPoolExecutor running checks against a deadline)
# live in its sandbox: same environment, same log stream. Threads the emulator or moto
# start while a function runs (an execution, a CodeDeploy flow) do not.
_HOST_MODULES = ("moto", "bluegreen_emulator", "werkzeug", "socketserver", "http.server")
_original_thread_start = threading.Thread.start


def _start_in_sandbox(self: threading.Thread) -> None:
    environ = os.environ
    overlay = environ.overlay if isinstance(environ, ThreadLocalEnviron) else None
    buffer = getattr(_ROUTING, "buffer", None)
    role = identity.current()
    timeline = clocks.current()
    target = getattr(self, "_target", None)
    module = getattr(target, "__module__", "") or ""
    sandboxed = (overlay is not None or buffer is not None) and not module.startswith(_HOST_MODULES)
    # moto's own threads (a task of an execution) call AWS as the role that started them
    # and run on its timeline; the emulator's threads (its HTTP servers, deployment flows)
    # act as the account, on no actor's time
    joins_actor = sandboxed or module.startswith("moto")
    inherits_role = role is not None and joins_actor
    if sandboxed or inherits_role or (timeline is not None and joins_actor):
        run = self.run

        def run_in_sandbox() -> None:
            if sandboxed:
                if isinstance(environ, ThreadLocalEnviron):
                    environ.overlay = overlay
                _ROUTING.buffer = buffer
            identity.set_current(role if inherits_role else None)
            clocks.set_current(timeline if joins_actor else None)
            run()

        self.run = run_in_sandbox  # type: ignore[method-assign]
    _original_thread_start(self)


threading.Thread.start = _start_in_sandbox  # type: ignore[method-assign]


class LambdaRuntime:
    """Registry and invoker of the emulated stack's functions.

    `clock` gives the account's clock at the moment of each invocation (a test may
    replace the emulator's clock while it runs)."""

    def __init__(
        self,
        base_environment: Mapping[str, str],
        log_sink: LogSink | None = None,
        clock: Callable[[], Clock] = Clock,
    ):
        self.functions: dict[str, FunctionSpec] = {}
        self.base_environment = dict(base_environment)
        self.log_sink = log_sink
        self.clock = clock
        self.history: list[Invocation] = []
        self._async: set[threading.Thread] = set()
        self._async_lock = threading.Lock()
        self._load_lock = threading.RLock()  # one cold start at a time (imports)
        self._environ = install_thread_local_environ()
        self._local = _ROUTING
        _route_console_output()

    def register(self, spec: FunctionSpec) -> None:
        self.functions[spec.name] = spec
        self.functions[spec.arn] = spec

    def find(self, name_or_arn: str) -> FunctionSpec:
        key = name_or_arn
        if key.startswith("arn:") and key.count(":") > 6:  # qualified ARN
            key = key.rsplit(":", 1)[0]
        if key in self.functions:
            return self.functions[key]
        raise KeyError(f"function {name_or_arn!r} is not deployed in the emulated stack")

    def by_logical_id(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions.values():
            if spec.logical_id == logical_id:
                return spec
        raise KeyError(f"no function with logical id {logical_id!r}")

    def invoke(self, name_or_arn: str, event: Any) -> Invocation:
        """Invoke synchronously (RequestResponse); errors come back as Lambda reports them.

        The caller, if it runs on a timeline, spends the invocation's emulated time."""
        spec = self.find(name_or_arn)
        request_id = str(uuid.uuid4())
        buffer = io.StringIO()
        caller = clocks.current()
        timeline = self.clock().invocation(spec.name, float(spec.timeout))
        try:
            with (
                self._environment(spec),
                self._captured(buffer),
                identity.acting_as(spec.role_arn),
                clocks.running_on(timeline),
            ):
                _route_console_output()
                started = time.perf_counter()
                payload, error_type = self._call(spec, event, request_id)
                duration_ms = (time.perf_counter() - started) * 1000
        finally:
            clocks.ended(timeline)
        result = Invocation(
            spec.name,
            payload,
            error_type,
            duration_ms,
            request_id,
            emulated_ms=timeline.elapsed() * 1000,
            started_at=timeline.start_now,
        )
        self.history.append(result)
        if self.log_sink is not None:
            self.log_sink(spec, request_id, buffer.getvalue())
        if caller is not None:  # the caller waited for the answer all that time
            with clocks.running_on(caller):
                self.clock().spend(timeline.own)
        return result

    def invoke_async(self, name_or_arn: str, event: Any) -> None:
        """Invoke with InvocationType=Event: accepted at once, run on its own thread (on
        its own time: the caller does not wait for it)."""
        self.find(name_or_arn)  # unknown function: fail the caller, as Lambda does
        thread = threading.Thread(target=self._invoke_queued, args=(name_or_arn, event))
        thread.daemon = True
        with self._async_lock:
            self._async.add(thread)
        thread.start()

    def _invoke_queued(self, name_or_arn: str, event: Any) -> None:
        try:
            self.invoke(name_or_arn, event)
        finally:
            with self._async_lock:
                self._async.discard(threading.current_thread())

    def drain(self, timeout: float) -> list[str]:
        """Wait (real seconds, at most `timeout`) for the asynchronous invocations in
        flight; the names of threads still running after it."""
        with self._async_lock:
            running = list(self._async)
        for thread in running:
            thread.join(timeout)
        return [t.name for t in running if t.is_alive()]

    def _call(self, spec: FunctionSpec, event: Any, request_id: str) -> tuple[bytes, str | None]:
        """Run the handler on the calling thread, which runs on the invocation's timeline."""
        timeline = clocks.current()
        assert isinstance(timeline, InvocationTimeline), "an invocation runs on its own time"
        spec.invocations += 1
        try:
            handler = self._handler(spec)
            result = handler(event, LambdaContext(spec, request_id, timeline))
        except SandboxTimedOut:
            return _timed_out(spec, request_id)
        except Exception as exc:  # noqa: BLE001 - report like the Lambda runtime does
            if timeline.expired.is_set():
                return _timed_out(spec, request_id)
            traceback.print_exc()
            return _error_payload(type(exc).__name__, str(exc), request_id, exc)
        if timeline.expired.is_set():  # it swallowed the end of its own time: still dead
            return _timed_out(spec, request_id)
        try:
            return json.dumps(result).encode(), None
        except (TypeError, ValueError) as exc:
            return _error_payload("Runtime.MarshalError", str(exc), request_id)

    def _handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        module_name, _, attribute = spec.handler.rpartition(".")
        with self._load_lock:
            if spec.module is None:
                spec.cold_starts += 1
                _reset_cold_start_flags()
                spec.module = _load_module(spec, module_name)
        return getattr(spec.module, attribute)  # type: ignore[no-any-return]

    def reset_cold_start(self, name_or_arn: str) -> None:
        """Forget a function's loaded module: its next invocation is a cold start."""
        self.find(name_or_arn).module = None

    @contextmanager
    def _environment(self, spec: FunctionSpec) -> Iterator[None]:
        overlay = {
            **self.base_environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            **spec.environment,
        }
        previous = self._environ.overlay
        self._environ.overlay = dict(overlay)
        try:
            yield
        finally:
            self._environ.overlay = previous

    @contextmanager
    def _captured(self, buffer: io.StringIO) -> Iterator[None]:
        previous = getattr(self._local, "buffer", None)
        self._local.buffer = buffer
        try:
            yield
        finally:
            self._local.buffer = previous


# On AWS a cold start is a new process; here functions share one, so the per-process
# cold-start flags of the Lambda libraries (module globals) are set again on each load.
_COLD_START_FLAGS = (
    "aws_lambda_powertools.logging.logger",
    "aws_lambda_powertools.metrics.base",
    "aws_lambda_powertools.metrics.provider.cold_start",
    "aws_lambda_powertools.tracing.tracer",
)


def _reset_cold_start_flags() -> None:
    for name in _COLD_START_FLAGS:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "is_cold_start"):
            vars(module)["is_cold_start"] = True


def _load_module(spec: FunctionSpec, module_name: str) -> ModuleType:
    path = spec.code_dir / (module_name.replace(".", "/") + ".py")
    if not path.is_file():
        raise FileNotFoundError(f"{spec.logical_id}: handler module {path} does not exist")
    for layer_dir in spec.layer_dirs:
        if str(layer_dir) not in sys.path:
            sys.path.insert(0, str(layer_dir))
    unique_name = f"_bluegreen_function_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(unique_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[unique_name] = module
    module_spec.loader.exec_module(module)
    return module


def _timed_out(spec: FunctionSpec, request_id: str) -> tuple[bytes, str]:
    """What Lambda answers for an invocation stopped at its timeout."""
    print(f"{request_id} Task timed out after {spec.timeout:.2f} seconds")
    body = {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
        f"{spec.timeout:.2f} seconds",
    }
    return json.dumps(body).encode(), "Sandbox.Timedout"


def _error_payload(
    error_type: str, message: str, request_id: str, exc: BaseException | None = None
) -> tuple[bytes, str]:
    body: dict[str, Any] = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
    }
    if exc is not None and exc.__traceback__ is not None:
        # Skip the emulator's own frame: the trace starts in the handler, as on AWS.
        body["stackTrace"] = traceback.format_tb(exc.__traceback__.tb_next)
    return json.dumps(body).encode(), error_type
