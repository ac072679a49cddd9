"""moto's Step Functions: its ASL interpreter on the emulator's clock, and what its API drops.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import threading
from datetime import UTC, datetime
from typing import Any, cast

from antlr4 import CommonTokenStream, InputStream
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import (
    EventHistoryContext,
    EventManager,
)
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
    SyntaxErrorListener,
)
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import StepFunctionResponse

from ..core import identity
from . import registry


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


# 23. moto's StopExecution only asks the program to stop: the execution stays RUNNING,
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
        callbacks = getattr(self.env, "callback_pool_manager", None)  # None before it ran
        pool = getattr(callbacks, "_pool", {})
        for endpoint in list(pool.values()):
            endpoint.interrupt_all()

    def set_error(self: Environment, error: Any) -> None:
        if registry.ACTIVE is not None and isinstance(self.program_state(), ProgramStopped):
            return
        set_error_original(self, error)

    ExecutionWorker.stop = stop  # type: ignore[method-assign]
    Environment.set_error = set_error  # type: ignore[method-assign]


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

    def terminated_and_announce(self: BaseExecutionWorkerCommunication) -> None:
        execution: Any = self.execution
        with _ABORT_LOCK:
            aborted = getattr(execution, "aborted_at_once", False)
            execution.ending = not aborted
        if aborted:  # ended and announced by its StopExecution (23): quiet once delivered
            execution.announcing.join()
            _quiet(execution)
            return
        terminated(self)
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


def apply() -> None:
    _patch_closed_history()
    _patch_execution_history_pages()
    _patch_execution_status_events()
    _patch_retry_backoff()
    _patch_wait_states()
    _patch_sdk_service_names()
    _patch_stop_execution_cause()
    _patch_stop_wakes_task_token_waits()
    _patch_asl_parse_cache()
    _patch_send_task_failure_cause()
