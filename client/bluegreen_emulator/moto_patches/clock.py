"""Not moto: what takes emulated time inside the account (core/clock.py).

- a function's `time.sleep` sleeps on its invocation's timeline, and its `time.time` is
  its invocation's emulated now;
- an AWS call slowed with `Emulator.slow(...)` takes that long on its caller's timeline
  (or fails with botocore's ReadTimeoutError after the client's `read_timeout`);
- a killed sandbox makes no call: every AWS call of an invocation past its timeout is
  refused before anything is sent;
- an HTTP request a function sends carries its emulated time, for the emulated ALB's
  metric timestamps.

Each patch names the behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed libraries.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any

import boto3
import botocore.handlers
from botocore.exceptions import ReadTimeoutError

from ..core import clock as clocks
from ..core import identity
from . import registry

_CALL = threading.local()  # the call this thread is about to send: (service, operation, read)


# 26. Not moto: `time.sleep` really sleeps. Inside a function's invocation (on its thread
#     or a thread it started) it sleeps on the invocation's emulated time instead: a
#     function that waits (the reaper waiting for a platform to finish rolling back)
#     takes no real time in tests, and its context's remaining time counts the wait.
#     Everywhere else (tests, moto, the emulator's own threads) it sleeps as shipped.
def _sleep(seconds: Any) -> None:
    timeline = clocks.current()
    if registry.ACTIVE is None or timeline is None or timeline.kind != "invocation":
        registry.ORIGINALS["time.sleep"](seconds)
        return
    registry.ACTIVE.clock.sleep(seconds)


def _patch_sleep() -> None:
    time.sleep = _sleep  # type: ignore[assignment]


# 34. Not moto: `time.time` is the real clock. Inside a function's invocation (on its
#     thread or a thread it started) it is the invocation's emulated now as a date
#     (`Clock.epoch`): the dates a function writes (a record's `startedAt`, a lease's
#     expiry, a metric query's window) are those of its timeline, so an hour the account
#     lets pass (`aws.clock.advance(3600)`) is an hour later for them, and no date depends
#     on how loaded the machine is. Everywhere else (tests, moto serving other callers,
#     the emulator's own threads) it is the real clock.
def _time() -> float:
    timeline = clocks.current()
    if registry.ACTIVE is None or timeline is None or timeline.kind != "invocation":
        return float(registry.ORIGINALS["time.time"]())
    return float(registry.ACTIVE.clock.epoch())


def _patch_time() -> None:
    time.time = _time


# 27. Not moto: botocore sends every call at once. Each client's first `before-call`
#     handler refuses a call made by an invocation whose time has run out (Lambda has
#     killed it: nothing goes out) and notes the call for the `before-send` handler, which
#     runs first in each attempt, before moto's stubber answers it: a call matching
#     `Emulator.slow(...)` takes its emulated seconds there, or, slower than the client's
#     read timeout, fails that attempt after `read_timeout` seconds with ReadTimeoutError
#     (the SDK retries it as it would on AWS). Only the calls of functions and executions
#     (a role) are slowed, never the emulated services' own.
def _before_call(model: Any, context: Any = None, **_: Any) -> None:
    timeline = clocks.current()
    if timeline is not None and timeline.kind == "invocation":
        timeline.check()  # raises SandboxTimedOut once the invocation's time is up
    config = (context or {}).get("client_config")
    read_timeout = getattr(config, "read_timeout", None) or 60
    _CALL.pending = (model.service_model.service_name, model.name, float(read_timeout))


def _before_send(request: Any, **_: Any) -> None:
    active = registry.ACTIVE
    pending = getattr(_CALL, "pending", None)
    if active is None or pending is None or identity.current() is None:
        return
    if clocks.current() is None:
        return
    service, operation, read_timeout = pending
    seconds = active.slowness(service, operation)
    if seconds <= 0:
        return
    if seconds > read_timeout:
        active.clock.spend(read_timeout)
        raise ReadTimeoutError(endpoint_url=getattr(request, "url", service))
    active.clock.spend(seconds)


_HANDLERS = (("before-call", _before_call), ("before-send", _before_send))


def _patch_call_timing() -> None:
    first = botocore.handlers.REGISTER_FIRST
    for event, handler in _HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append((event, handler, first))
    if boto3.DEFAULT_SESSION is not None:  # a session made before: register on it too
        emitter = boto3.DEFAULT_SESSION._session.get_component("event_emitter")
        for event, handler in _HANDLERS:
            emitter.register_first(event, handler)


# 32. Not moto: an HTTP request leaves when it is sent, in real time. A request an actor
#     sends (a function's probe or synthetic request to the emulated ALB) leaves at the
#     actor's emulated time, and the emulated ALB, which serves it on a thread of its own
#     (no actor's timeline), stamps its metrics with that time: the request carries it in
#     a header (`Clock.epoch` of the sender), so the metrics land where the sender's
#     metric query (a window ending at the state's entered time) looks for them. Requests
#     sent off any timeline (tests, the emulator itself) carry nothing.
def _putrequest(self: http.client.HTTPConnection, *args: Any, **kwargs: Any) -> None:
    registry.ORIGINALS["HTTPConnection.putrequest"](self, *args, **kwargs)
    active = registry.ACTIVE
    if active is not None and clocks.current() is not None:
        self.putheader(clocks.SENT_AT_HEADER, repr(active.clock.epoch()))


def _patch_sent_at() -> None:
    http.client.HTTPConnection.putrequest = _putrequest  # type: ignore[method-assign]


def apply() -> None:
    _patch_sleep()
    _patch_time()
    _patch_call_timing()
    _patch_sent_at()
