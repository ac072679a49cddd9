"""The running emulator the patches dispatch to, and moto's originals they replace.

Patches are applied once per process and dispatch to the running emulator (there is at
most one at a time); with none running (`ACTIVE is None`), moto behaves as shipped.
"""

import http.client
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import botocore.httpsession
import botocore.loaders
import botocore.regions
import botocore.session
from botocore import endpoint as botocore_endpoint
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.cloudformation.models import ChangeSet, CloudFormationBackend
from moto.cloudwatch.models import CloudWatchBackend, Statistics
from moto.codedeploy import responses as codedeploy_responses
from moto.codedeploy.models import CodeDeployBackend
from moto.core import responses as moto_responses
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import LimitedSizeDict
from moto.dynamodb.responses import DynamoHandler
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.models import FakeTargetGroup
from moto.events.models import EventsBackend, Rule
from moto.kms import models as kms_models
from moto.stepfunctions.parser import quotas
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
    ErrorEqualsDecl,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state import state as asl_state
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
    StateTaskLambda,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackPoolManager,
    HeartbeatEndpoint,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
)
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import StepFunctionResponse

ACTIVE: Any = None  # the running Emulator (see core/emulator.py), or None

_apply_lock = threading.Lock()

ORIGINALS: dict[str, Callable[..., Any]] = {
    "Execution.start": Execution.start,
    "BaseExecutionWorkerCommunication.terminated": BaseExecutionWorkerCommunication.terminated,
    **{
        f"DynamoDBBackend.{name}": getattr(DynamoDBBackend, name)
        for name in (
            "put_item",
            "get_item",
            "update_item",
            "delete_item",
            "query",
            "scan",
            "transact_write_items",
        )
    },
    "DynamoHandler.transact_get_items": DynamoHandler.transact_get_items,
    "LimitedSizeDict.__setitem__": LimitedSizeDict.__setitem__,
    "BotocoreStubber.__call__": BotocoreStubber.__call__,
    "ExecutionWorker._execution_logic": ExecutionWorker._execution_logic,
    "CodeDeployBackend.create_deployment": CodeDeployBackend.create_deployment,
    "codedeploy_responses._deployment_info": codedeploy_responses._deployment_info,
    "socket.getaddrinfo": socket.getaddrinfo,
    "EC2ContainerServiceResponse.create_service": EC2ContainerServiceResponse.create_service,
    "EC2ContainerServiceResponse.update_service": EC2ContainerServiceResponse.update_service,
    "EC2ContainerServiceResponse.describe_services": EC2ContainerServiceResponse.describe_services,
    "WaitFunction._wait_interval": WaitFunction._wait_interval,
    "retrier_decl.time": retrier_decl.time,  # type: ignore[dict-item]
    "botocore.endpoint.time": botocore_endpoint.time,  # type: ignore[dict-item]
    "LambdaSimpleBackend.invoke": LambdaSimpleBackend.invoke,
    "LambdaResponse.invoke": LambdaResponse.invoke,
    "Rule.send_to_targets": Rule.send_to_targets,
    "CloudWatchBackend.set_alarm_state": CloudWatchBackend.set_alarm_state,
    "EventsBackend.put_events": EventsBackend.put_events,
    "FakeTargetGroup.health_for": FakeTargetGroup.health_for,
    "StepFunctionResponse.stop_execution": StepFunctionResponse.stop_execution,
    "CodeDeployBackend.get_deployment": CodeDeployBackend.get_deployment,
    "botocore.session.create_loader": botocore.session.create_loader,
    "ExecutionWorker.stop": ExecutionWorker.stop,
    "Environment.set_error": Environment.set_error,
    "AmazonStateLanguageParser.parse": AmazonStateLanguageParser.parse,
    "StepFunctionResponse.send_task_failure": StepFunctionResponse.send_task_failure,
    "StepFunctionResponse.get_execution_history": StepFunctionResponse.get_execution_history,
    "Statistics.get_statistics_for_type": Statistics.get_statistics_for_type,
    "codedeploy_responses._deployment_group_info": codedeploy_responses._deployment_group_info,
    "CloudFormationBackend.create_stack": CloudFormationBackend.create_stack,
    "ChangeSet.apply": ChangeSet.apply,
    "time.sleep": time.sleep,
    "time.time": time.time,
    "Program.eval": Program.eval,
    "ExecutionWorker.start": ExecutionWorker.start,
    "quotas.is_within_size_quota": quotas.is_within_size_quota,
    "ErrorEqualsDecl._eval_body": ErrorEqualsDecl._eval_body,
    "StateTask._eval_parameters": StateTask._eval_parameters,
    "StateTaskLambda._eval_parameters": StateTaskLambda._eval_parameters,
    "EventManager.add_event": EventManager.add_event,
    "asl_state.datetime": asl_state.datetime,  # type: ignore[dict-item]
    "HTTPConnection.putrequest": http.client.HTTPConnection.putrequest,
    "execute_state.threading": execute_state.threading,  # type: ignore[dict-item]
    "CallbackEndpoint.wait": CallbackEndpoint.wait,
    "HeartbeatEndpoint.clear_and_wait": HeartbeatEndpoint.clear_and_wait,
    "HeartbeatEndpoint.notify": HeartbeatEndpoint.notify,
    "CallbackEndpoint.setup_heartbeat_endpoint": CallbackEndpoint.setup_heartbeat_endpoint,
    "CallbackPoolManager.add": CallbackPoolManager.add,
    "ExecutionState._evaluate_with_timeout": ExecutionState._evaluate_with_timeout,
    "StateTask._from_error": StateTask._from_error,
    "kms_models.generate_private_key": kms_models.generate_private_key,
    "botocore.regions.EndpointProvider": botocore.regions.EndpointProvider,
    "URLLib3Session._get_ssl_context": botocore.httpsession.URLLib3Session._get_ssl_context,
    "moto_responses.method_names_from_class": moto_responses.method_names_from_class,
    "moto_responses.camelcase_to_underscores": moto_responses.camelcase_to_underscores,
    "BaseResponse._enrich_response": moto_responses.BaseResponse._enrich_response,
}


# 2. moto's retrier calls `time.sleep(interval)` between `Retry` attempts
#    (retrier_decl.RetrierDecl._eval_body). Give that module a `time` whose sleep is
#    the emulator's clock.
class ClockTime:
    def __init__(self, real: Any) -> None:
        self._real = real

    def sleep(self, seconds: float) -> None:
        if ACTIVE is None:
            self._real.sleep(seconds)
        else:
            ACTIVE.clock.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
