"""moto's Step Functions: its ASL interpreter on the emulator's clock, and what its API drops.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import datetime as datetime_module
import threading
from datetime import UTC, datetime
from typing import Any, cast

from antlr4 import CommonTokenStream, InputStream
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionStatus,
    HistoryEventType,
    TaskFailedEventDetails,
    TaskTimedOutEventDetails,
)
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
    ErrorEqualsDecl,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    state_task_lambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
    StateTaskLambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackConsumerTimeout,
    CallbackEndpoint,
    CallbackOutcome,
    CallbackPoolManager,
    HeartbeatEndpoint,
    HeartbeatTimeoutError,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import (
    EventHistoryContext,
    EventManager,
)
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
    SyntaxErrorListener,
)
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse

from ..core import clock as clocks
from ..core import identity
from . import registry

# Step Functions' payload quota: "256 KiB of data as a UTF-8 encoded string" per state
# input or output (Step Functions Developer Guide, "Step Functions service quotas").
MAX_PAYLOAD_BYTES = 256 * 1024


# 1. moto's ASL interpreter really sleeps in `Wait` states
#    (WaitFunction._wait_interval waits on the execution's stop event for the full
#    duration). Scale the wait by the emulator's clock; a stop still interrupts it.
def _patch_wait_states() -> None:
    original = registry.ORIGINALS["WaitFunction._wait_interval"]

    def _wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        if registry.ACTIVE is None:
            return original(self, env, wait_seconds)
        registry.ACTIVE.clock.wait(env.program_state_event, wait_seconds)
        return None

    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]


# 3. `arn:aws:states:::aws-sdk:elasticloadbalancingv2:*` tasks: moto maps the SFN service
#    name to a boto3 client name through StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
#    which lacks elbv2.
def _patch_sdk_service_names() -> None:
    overrides = StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES
    overrides["elasticloadbalancingv2"] = "elbv2"  # type: ignore[index]


# 8b. moto's StopExecution drops `error` and `cause` (StepFunctionResponse.stop_execution
#     passes only the ARN on; the execution stops with error="" and cause=""). Pass them
#     to the execution, so its `ExecutionAborted` event says who stopped it and why.
def _patch_stop_execution_cause() -> None:
    original = registry.ORIGINALS["StepFunctionResponse.stop_execution"]

    def stop_execution(self: StepFunctionResponse) -> ActionResult:
        if registry.ACTIVE is None:
            return original(self)  # type: ignore[no-any-return]
        arn = self._get_param("executionArn")
        execution = self.stepfunction_backend.describe_execution(arn)
        stopped_at = datetime.now(UTC)
        error, cause = self._get_param("error") or "", self._get_param("cause") or ""
        with _ABORT_LOCK:  # against its own thread ending it at the same moment
            execution.stop(stop_date=stopped_at, error=error, cause=cause)
            _abort_at_once(execution, stopped_at, error, cause)
        return ActionResult({"stopDate": execution.stop_date or stopped_at})

    StepFunctionResponse.stop_execution = stop_execution  # type: ignore[method-assign]


# 30. moto's StopExecution only asks the program to stop: the execution stays RUNNING,
#     with no `ExecutionAborted` event and no status change, until the state it is in
#     returns (a Lambda task runs to its end first, however long it takes). On AWS the
#     execution is ABORTED at once: DescribeExecution says so, the history ends with
#     `ExecutionAborted`, the status change is published, while a Lambda function it
#     invoked still runs to its end, its result discarded. Abort at once, and let the
#     history take nothing the late state adds. (`terminated` then announces nothing:
#     see 22.)
def _abort_at_once(execution: Any, stopped_at: datetime, error: str, cause: str) -> None:
    """Called holding _ABORT_LOCK."""
    env = getattr(execution.exec_worker, "env", None)
    if env is None or not isinstance(env.program_state(), ProgramStopped):
        return  # it had already ended: nothing to abort
    if getattr(execution, "aborted_at_once", False) or getattr(execution, "ending", False):
        return  # stopped twice, or its own thread is announcing how it ended
    execution.aborted_at_once = True
    env.event_manager.add_event(
        context=EventHistoryContext.of_program_start(),
        event_type=HistoryEventType.ExecutionAborted,
        event_details=cast(
            EventDetails,
            {
                "executionAbortedEventDetails": ExecutionAbortedEventDetails(
                    error=error, cause=cause
                )
            },
        ),
    )
    env.event_manager.closed = True
    execution.exec_status = ExecutionStatus.ABORTED
    execution.stop_date = stopped_at
    execution.error, execution.cause = error or None, cause or None  # as 8c keeps them
    # EventBridge delivers the status change on its own, not inside the StopExecution
    # call: the caller (an alarm's settle, say) goes on while the reaper runs.
    execution.announcing = threading.Thread(
        target=_announce_aborted, args=(execution,), name=f"aborted:{execution.name}"
    )
    execution.announcing.daemon = True
    execution.announcing.start()


_ABORT_LOCK = threading.Lock()


def _announce_aborted(execution: Any) -> None:
    execution.started_announced.wait()  # RUNNING is announced first
    _announce(execution, "ABORTED")


def _patch_closed_history() -> None:
    original = registry.ORIGINALS["EventManager.add_event"]

    def add_event(self: EventManager, *args: Any, **kwargs: Any) -> int:
        if getattr(self, "closed", False):
            return 0  # the execution was aborted: its history is final
        return original(self, *args, **kwargs)  # type: ignore[no-any-return]

    EventManager.add_event = add_event  # type: ignore[method-assign]


# 15. StopExecution does not end an execution waiting in a `.waitForTaskToken` task:
#     ExecutionWorker.stop marks the program stopped, but the task keeps waiting on its
#     callback endpoint (with no TimeoutSeconds: forever), so it stays RUNNING; woken, the
#     task fails with States.Timeout and Environment.set_error overwrites the stop, so it
#     ends FAILED. On AWS it is ABORTED at once. Wake the execution's callback waits when
#     it is stopped, and let an error raised after the stop leave it stopped.
def _patch_stop_wakes_task_token_waits() -> None:
    stop_original = registry.ORIGINALS["ExecutionWorker.stop"]
    set_error_original = registry.ORIGINALS["Environment.set_error"]

    def stop(self: ExecutionWorker, stop_date: Any, error: Any, cause: Any) -> None:
        stop_original(self, stop_date=stop_date, error=error, cause=cause)
        if registry.ACTIVE is None:
            return
        _wake_callback_waits(self.env)

    def set_error(self: Environment, error: Any) -> None:
        ended = (ProgramStopped, ProgramTimedOut)
        if registry.ACTIVE is not None and isinstance(self.program_state(), ended):
            return
        set_error_original(self, error)

    ExecutionWorker.stop = stop  # type: ignore[method-assign]
    Environment.set_error = set_error  # type: ignore[method-assign]


def _wake_callback_waits(env: Any) -> None:
    callbacks = getattr(env, "callback_pool_manager", None)  # None before it ran
    pool = getattr(callbacks, "_pool", {})
    for endpoint in list(pool.values()):
        endpoint.interrupt_all()


# 17. moto parses a definition with ANTLR (AmazonStateLanguageParser.parse) on
#     CreateStateMachine and on every StartExecution: ~0.3 s each for the switch machine,
#     paid by every deploy and every test. Keep the parse tree per definition text (a
#     tree is read-only) and build a fresh program from it on each call, as moto does.
_ASL_TREES: dict[str, Any] = {}
_ASL_TREES_LOCK = threading.Lock()


def _patch_asl_parse_cache() -> None:
    original = registry.ORIGINALS["AmazonStateLanguageParser.parse"]

    def parse(definition: str) -> tuple[Any, Any]:
        if registry.ACTIVE is None:
            return original(definition)  # type: ignore[no-any-return]
        with _ASL_TREES_LOCK:
            tree = _ASL_TREES.get(definition)
        if tree is None:
            errors = SyntaxErrorListener()
            parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
            parser.removeErrorListeners()
            parser.addErrorListener(errors)
            tree = parser.state_machine()
            if errors.errors:
                raise ASLParserException(errors=errors.errors)
            with _ASL_TREES_LOCK:
                _ASL_TREES[definition] = tree
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign,assignment]


# 13. moto's SendTaskFailure drops `cause` (StepFunctionResponse.send_task_failure passes
#     only the token and `error` on), so a rejected approval's reason never reaches the
#     execution. Pass the cause too, as Step Functions does.
def _patch_send_task_failure_cause() -> None:
    original = registry.ORIGINALS["StepFunctionResponse.send_task_failure"]

    def send_task_failure(self: StepFunctionResponse) -> Any:
        if registry.ACTIVE is None:
            return original(self)
        self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]  # the parser backend takes a cause
            self._get_param("taskToken"),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return ActionResult({})

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


# 2. moto's retrier calls `time.sleep(interval)` between `Retry` attempts
#    (retrier_decl.RetrierDecl._eval_body). Give that module a `time` whose sleep is
#    the emulator's clock.
def _patch_retry_backoff() -> None:
    retrier_decl.time = registry.ClockTime(registry.ORIGINALS["retrier_decl.time"])  # type: ignore[assignment]


# 22. Step Functions announces every execution status change on EventBridge; moto's
#     executions announce nothing (Execution.start sets RUNNING,
#     BaseExecutionWorkerCommunication.terminated sets the final status). Publish
#     `Step Functions Execution Status Change` after each (services/states_events.py),
#     as the account, not as the execution's role.
def _patch_execution_status_events() -> None:
    start = registry.ORIGINALS["Execution.start"]
    terminated = registry.ORIGINALS["BaseExecutionWorkerCommunication.terminated"]

    def start_and_announce(self: Any) -> None:
        self.started_announced = threading.Event()
        start(self)
        _announce(self, status="RUNNING")  # it may have ended already: RUNNING came first
        self.started_announced.set()
        gate = getattr(self.exec_worker, GATE, None)  # its first state waits until now (24)
        if gate is not None:
            gate.set()

    def terminated_and_announce(self: BaseExecutionWorkerCommunication) -> None:
        execution: Any = self.execution
        with _ABORT_LOCK:
            aborted = getattr(execution, "aborted_at_once", False)
            execution.ending = not aborted
        if aborted:  # ended and announced by its StopExecution (30): quiet once delivered
            execution.announcing.join()
            _quiet(execution)
            return
        terminated(self)
        if registry.ACTIVE is not None:
            _keep_abort_reason(execution)
        execution.started_announced.wait()
        _announce(execution)
        _quiet(execution)

    Execution.start = start_and_announce  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = terminated_and_announce  # type: ignore[method-assign]


def _announce(execution: Any, status: str | None = None) -> None:
    if registry.ACTIVE is not None:
        with identity.acting_as(None):
            registry.ACTIVE.publish_execution_status(execution, status)


def _quiet(execution: Any) -> None:
    """The execution's thread has nothing left to run (see Emulator.wait_until_quiet)."""
    if registry.ACTIVE is not None:
        registry.ACTIVE.execution_quiet(execution.exec_arn)


# 21. moto's GetExecutionHistory ignores `reverseOrder`, `maxResults` and `nextToken`: it
#     answers every event, oldest first, in one page. AWS pages them (100 by default,
#     1,000 at most) and, with reverseOrder, newest first: a reader of the newest events
#     (how an execution ended) gets them on its first page. Answer as AWS does.
def _patch_execution_history_pages() -> None:
    original = registry.ORIGINALS["StepFunctionResponse.get_execution_history"]

    def get_execution_history(self: StepFunctionResponse) -> ActionResult:
        if registry.ACTIVE is None:
            return original(self)  # type: ignore[no-any-return]
        answer = original(self)
        events = list(answer.result.get("events", []))  # type: ignore[attr-defined]
        if self._get_param("reverseOrder"):
            events.reverse()
        size = min(int(self._get_param("maxResults") or 100) or 100, 1000)
        start = int(self._get_param("nextToken") or 0)
        page: dict[str, Any] = {"events": events[start : start + size]}
        if start + size < len(events):
            page["nextToken"] = str(start + size)
        return ActionResult(page)

    StepFunctionResponse.get_execution_history = get_execution_history  # type: ignore[method-assign]


# 31. moto stamps `$$.State.EnteredTime` with the real clock (State._eval_body calls
#     `datetime.datetime.now`). The waits the emulator's clock skipped passed for the
#     execution: stamp states with the execution's emulated time as a date
#     (`Clock.epoch`, on the execution's timeline), so a task given its
#     entered time (the switch's gate: the end of its analysis window) sees the bake's
#     length, as on AWS. Outside an emulator moto's clock is the real one.
class _EnteredTime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        if registry.ACTIVE is None:
            return datetime.now(tz)
        return datetime.fromtimestamp(registry.ACTIVE.clock.epoch(), tz)


class _DatetimeModule:
    """What moto's state module uses of `datetime`, with `datetime.now` on the clock."""

    datetime = _EnteredTime
    timezone = datetime_module.timezone


def _patch_entered_time() -> None:
    state_module.datetime = _DatetimeModule  # type: ignore[assignment]


# 8c. moto's DescribeExecution of an execution stopped with StopExecution(error, cause)
#     shows neither (BaseExecutionWorkerCommunication._reflect_execution_status sets them
#     for FAILED only). Step Functions keeps them (StopExecution: "Step Functions will
#     encrypt the error and cause fields"): DescribeExecution shows them, and so does the
#     ABORTED status change event (both null when the stop gave none).
def _keep_abort_reason(execution: Any) -> None:
    worker = getattr(execution, "exec_worker", None)
    state = worker.env.program_state() if worker is not None and worker.env else None
    if isinstance(state, ProgramStopped):
        execution.error = state.error or None
        execution.cause = state.cause or None


# 23. moto times an execution out in real time (Program.eval runs the states on a worker
#     thread and joins it for TimeoutSeconds real seconds) and counts none of the time
#     its states wait. Run each execution on its own timeline of the emulated clock
#     (core/clock.py): its Wait states, retry back-offs and the emulated time of the
#     functions its tasks invoke move it, and it is TIMED_OUT when that time reaches the
#     state machine's TimeoutSeconds, before any further state runs. A task waiting for a
#     callback is woken, so the history ends with ExecutionTimedOut as on AWS.
POLL_SECONDS = 0.05  # real seconds between looks at an execution's emulated time


def _patch_execution_timeline() -> None:
    original = registry.ORIGINALS["Program.eval"]

    def eval_program(self: Program, env: Environment) -> None:
        if registry.ACTIVE is None or env.is_frame():
            original(self, env)
            return
        timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
        name = str(env.states.context_object.context_object_data["Execution"]["Id"])
        timeline = registry.ACTIVE.clock.execution(name, timeout)
        try:
            with clocks.running_on(timeline):
                env.next_state_name = self.start_at.start_at_name
                worker = threading.Thread(target=EvalComponent.eval, args=(self, env), daemon=True)
                TMP_THREADS.append(worker)
                worker.start()
                if _out_of_time(worker, timeline):
                    env.set_timed_out()
                    _wake_callback_waits(env)
                    timeline.released.set()
                    worker.join(clocks.RELEASE_SECONDS)  # its history ends ExecutionTimedOut
        finally:
            timeline.released.set()
            clocks.ended(timeline)

    Program.eval = eval_program  # type: ignore[method-assign]


def _out_of_time(worker: threading.Thread, timeline: clocks.ExecutionTimeline) -> bool:
    """Wait for the states to end; True if the execution's time ran out first."""
    while worker.is_alive():
        if timeline.deadline is None:
            worker.join()
            return False
        worker.join(POLL_SECONDS)
        if timeline.expired.is_set() and worker.is_alive():
            return True
    return False


# 24. moto's executions run on threads nobody waits for (ExecutionWorker.start): stopping
#     the emulator left them, and the status events they still delivered, calling into a
#     torn-down account. Count each execution in flight (Emulator.inflight) from its start
#     to its last status delivery, so Emulator.stop() can wait for them. Its first state
#     waits until RUNNING is announced (22), so the events come in the order they happen.
GATE = "_bluegreen_announced"


def _patch_execution_in_flight() -> None:
    original = registry.ORIGINALS["ExecutionWorker.start"]

    def start(self: ExecutionWorker) -> None:
        if registry.ACTIVE is None:
            original(self)
            return
        inflight = registry.ACTIVE.inflight
        logic = self._execution_logic
        announced = threading.Event()
        setattr(self, GATE, announced)

        def run() -> None:
            try:
                announced.wait(clocks.RELEASE_SECONDS)
                logic()
            finally:
                inflight.done()

        thread = threading.Thread(target=run, daemon=True)
        TMP_THREADS.append(thread)
        inflight.begin()
        thread.start()

    ExecutionWorker.start = start  # type: ignore[method-assign]


# 25. Step Functions' 256 KiB payload quota. moto refuses a state output or a task result
#     of 256 KiB exactly (quotas.is_within_size_quota uses `<`, and measures JSON with
#     spaces) and never checks a task's input after Parameters; its States.ALL catches
#     States.DataLimitExceeded and States.Runtime (ErrorEqualsDecl._eval_body matches
#     every error). AWS ("Error handling in Step Functions workflows"): DataLimitExceeded
#     when a connector's output, a state's output, or a state's input after Parameters is
#     larger than the quota; "a terminal error that can't be caught by the States.ALL
#     error type", like the runtime errors. So: a payload is too large above 262,144
#     bytes of compact UTF-8 JSON; a task's Parameters are measured too; and States.ALL
#     matches neither error (a Catch naming them explicitly still does).
_QUOTA_MODULES = (state_module, state_task_lambda, state_task_service)
_UNCATCHABLE_BY_ALL = (
    StatesErrorNameType.StatesStatesDataLimitExceeded,
    StatesErrorNameType.StatesRuntime,
)


def payload_bytes(value: Any) -> int:
    text = value if isinstance(value, str) else to_json_str(value, separators=(",", ":"))
    return len(text.encode("utf-8"))


def within_payload_quota(value: Any) -> bool:
    if registry.ACTIVE is None:
        return registry.ORIGINALS["quotas.is_within_size_quota"](value)  # type: ignore[no-any-return]
    return payload_bytes(value) <= MAX_PAYLOAD_BYTES


def _patch_payload_quota() -> None:
    for module in _QUOTA_MODULES:
        module.is_within_size_quota = within_payload_quota  # type: ignore[attr-defined]
    error_equals = registry.ORIGINALS["ErrorEqualsDecl._eval_body"]

    def eval_body(self: ErrorEqualsDecl, env: Environment) -> None:
        error_name = env.stack[-1] if env.stack else None
        terminal = isinstance(error_name, StatesErrorName) and error_name.typ in _UNCATCHABLE_BY_ALL
        if registry.ACTIVE is None or not terminal:
            error_equals(self, env)
            return
        env.stack.pop()
        env.stack.append(error_name in self.error_names)  # only by its own name

    ErrorEqualsDecl._eval_body = eval_body  # type: ignore[method-assign]
    for cls in (StateTask, StateTaskLambda):
        _check_parameters(cls)


def _check_parameters(cls: type) -> None:
    original = registry.ORIGINALS[f"{cls.__name__}._eval_parameters"]

    def eval_parameters(self: Any, env: Environment) -> dict[str, Any]:
        parameters: dict[str, Any] = original(self, env)
        if registry.ACTIVE is not None and not within_payload_quota(parameters):
            raise _input_too_large(env, self.name, payload_bytes(parameters))
        return parameters

    cls._eval_parameters = eval_parameters  # type: ignore[attr-defined]


def _input_too_large(env: Environment, state: str, size: int) -> FailureEventException:
    error = StatesErrorNameType.StatesStatesDataLimitExceeded
    cause = (
        f"The state/task '{state}' has an input of {size} bytes after Parameters, "
        f"exceeding the maximum number of bytes service limit ({MAX_PAYLOAD_BYTES})."
    )
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # one of them, as moto's
                taskFailedEventDetails=TaskFailedEventDetails(error=error.to_name(), cause=cause)
            ),
        )
    )


# 33. moto measures a Task's own `TimeoutSeconds` and `HeartbeatSeconds` in real time:
#     ExecutionState._evaluate_with_timeout waits for the task on a `threading.Event` for
#     TimeoutSeconds real seconds, a `.waitForTaskToken` task waits for its callback
#     (CallbackEndpoint.wait) and for each heartbeat (HeartbeatEndpoint.clear_and_wait)
#     in real seconds too. An approval's timeout then depended on how long the machine
#     took, and a test had to wait for it. Measure all three on the execution's timeline
#     (Clock.await_event): the task fails with States.Timeout or States.HeartbeatTimeout
#     when the execution's emulated time reaches it (a test's `aws.clock.advance`, the
#     time a function it invoked took), never because real time passed. Whichever comes
#     first decides: a callback sent before the time got there is the task's result; one
#     sent after is refused (the token's consumer timed out), as on AWS.
class _TaskEvent(threading.Event):
    """moto's `threading.Event` in execute_state: its timed wait is on the clock."""

    def wait(self, timeout: float | None = None) -> bool:
        if registry.ACTIVE is None:
            return super().wait(timeout)
        return bool(registry.ACTIVE.clock.await_event(self, timeout))


class _ThreadingWithTaskEvent:
    """What execute_state uses of `threading`, with `Event` timed on the clock."""

    Event = _TaskEvent

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


def _patch_task_timeouts() -> None:
    execute_state.threading = _ThreadingWithTaskEvent()  # type: ignore[assignment]
    callback_wait = registry.ORIGINALS["CallbackEndpoint.wait"]
    heartbeat_wait = registry.ORIGINALS["HeartbeatEndpoint.clear_and_wait"]

    def wait(self: CallbackEndpoint, timeout: float | None = None) -> CallbackOutcome | None:
        if registry.ACTIVE is None:
            return callback_wait(self, timeout)  # type: ignore[no-any-return]

        def timed_out() -> None:  # from now on SendTask* for this token is refused
            self.report(CallbackConsumerTimeout())

        event = self._notify_event  # type: ignore[attr-defined]
        if not registry.ACTIVE.clock.await_event(event, timeout, timed_out):
            return None  # moto's "timed out or interrupted"
        return self._outcome  # type: ignore[attr-defined,no-any-return]

    def clear_and_wait(self: HeartbeatEndpoint) -> bool:
        timeline: Any = getattr(self, _TIMELINE, None)
        if registry.ACTIVE is None or timeline is None:
            return heartbeat_wait(self)  # type: ignore[no-any-return]
        event = self._next_heartbeat_event  # type: ignore[attr-defined]
        with self._mutex:  # type: ignore[attr-defined]
            if event.is_set():
                event.clear()
                return True
        # the window runs from the last beat (or the task's start), not from this call
        due = getattr(self, _BEAT) + self._heartbeat_seconds  # type: ignore[attr-defined]
        return bool(registry.ACTIVE.clock.await_event(event, due - timeline.elapsed()))

    CallbackEndpoint.wait = wait  # type: ignore[method-assign]
    HeartbeatEndpoint.clear_and_wait = clear_and_wait  # type: ignore[method-assign]
    _patch_heartbeat_windows()
    _patch_task_timed_out()
    _patch_heartbeat_error()


_TIMELINE, _BEAT = "_bluegreen_timeline", "_bluegreen_beat"


def _patch_heartbeat_windows() -> None:
    """moto's heartbeat window starts when the task begins waiting, after the function it
    invoked answered, and each next one when the waiting thread gets round to it. Step
    Functions counts from the task's start and from each heartbeat: stamp the token's
    endpoint with the execution's time when the task makes it, and each beat when it
    arrives, so the windows do not depend on when the waiting thread runs."""
    add = registry.ORIGINALS["CallbackPoolManager.add"]
    setup = registry.ORIGINALS["CallbackEndpoint.setup_heartbeat_endpoint"]
    notify = registry.ORIGINALS["HeartbeatEndpoint.notify"]

    def add_stamped(self: CallbackPoolManager, callback_id: str) -> CallbackEndpoint:
        endpoint = add(self, callback_id)
        timeline = clocks.current()
        if registry.ACTIVE is not None and timeline is not None:
            setattr(endpoint, _TIMELINE, timeline)
            setattr(endpoint, _BEAT, timeline.elapsed())
        return endpoint  # type: ignore[no-any-return]

    def setup_stamped(self: CallbackEndpoint, heartbeat_seconds: int) -> HeartbeatEndpoint:
        heartbeat = setup(self, heartbeat_seconds)
        if hasattr(self, _TIMELINE):
            setattr(heartbeat, _TIMELINE, getattr(self, _TIMELINE))
            setattr(heartbeat, _BEAT, getattr(self, _BEAT))
        return heartbeat  # type: ignore[no-any-return]

    def notify_stamped(self: HeartbeatEndpoint) -> None:
        timeline = getattr(self, _TIMELINE, None)
        if timeline is not None:
            setattr(self, _BEAT, timeline.elapsed())
        notify(self)

    CallbackPoolManager.add = add_stamped  # type: ignore[method-assign]
    CallbackEndpoint.setup_heartbeat_endpoint = setup_stamped  # type: ignore[method-assign]
    HeartbeatEndpoint.notify = notify_stamped  # type: ignore[method-assign]


def _patch_task_timed_out() -> None:
    """A task timed out as a whole (not in its callback wait): its token is timed out too,
    and its callback wait woken, so a late answer is refused and no wait is left behind."""
    original = registry.ORIGINALS["ExecutionState._evaluate_with_timeout"]

    def evaluate_with_timeout(self: ExecutionState, env: Environment) -> None:
        try:
            original(self, env)
        except EvalTimeoutError:
            if registry.ACTIVE is not None:
                _time_out_token(env)
            raise

    ExecutionState._evaluate_with_timeout = evaluate_with_timeout  # type: ignore[method-assign]


def _time_out_token(env: Environment) -> None:
    task: Any = env.states.context_object.context_object_data.get("Task") or {}
    token = task.get("Token")
    callbacks = getattr(env, "callback_pool_manager", None)
    endpoint = callbacks.get(token) if callbacks is not None and token else None
    if endpoint is not None:
        endpoint.report(CallbackConsumerTimeout())
        endpoint.interrupt_all()


# 33b. moto reports a heartbeat timeout as States.Timeout (StateTask._from_error maps every
#      TimeoutError, HeartbeatTimeoutError included, to it). Step Functions names it
#      States.HeartbeatTimeout ("Error handling in Step Functions workflows"), which a
#      Retry or Catch may name apart from States.Timeout.
def _patch_heartbeat_error() -> None:
    original = registry.ORIGINALS["StateTask._from_error"]

    def from_error(self: StateTask, env: Environment, ex: Exception) -> FailureEvent:
        if registry.ACTIVE is None or not isinstance(ex, HeartbeatTimeoutError):
            return original(self, env, ex)  # type: ignore[no-any-return]
        error = StatesErrorNameType.StatesHeartbeatTimeout
        return FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error),
            event_type=HistoryEventType.TaskTimedOut,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # one of them, as moto's
                taskTimedOutEventDetails=TaskTimedOutEventDetails(error=error.to_name())
            ),
        )

    StateTask._from_error = from_error  # type: ignore[method-assign]


def apply() -> None:
    _patch_task_timeouts()
    _patch_closed_history()
    _patch_entered_time()
    _patch_execution_timeline()
    _patch_execution_in_flight()
    _patch_payload_quota()
    _patch_execution_history_pages()
    _patch_execution_status_events()
    _patch_retry_backoff()
    _patch_wait_states()
    _patch_sdk_service_names()
    _patch_stop_execution_cause()
    _patch_stop_wakes_task_token_waits()
    _patch_asl_parse_cache()
    _patch_send_task_failure_cause()
