"""Every shipped events file, sent to its own function in the staged account, gets its
expected answer: the table `make local-invoke` checks real containers against.

The account is staged as `python -m bluegreen_emulator serve --stage-events` stages it
(`bluegreen_emulator/staging.py`), the functions run in the emulator's own Lambda runtime,
and each answer is judged with the emulator's record of it (the status CodeDeploy
recorded for the lifecycle event, the traffic the alarm restored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.staging import (
    CANARY,
    ENV_FILE,
    EXPECTED,
    NOT_STAGED,
    STAGED_PARAMETERS,
    Staged,
    env_vars,
    event_payload,
    load,
    stage_events,
)
from tests.conftest import EVENTS

pytestmark = pytest.mark.integration


@pytest.fixture(name="staged")
def _staged() -> Iterator[Staged]:
    with Emulator(parameters=STAGED_PARAMETERS) as aws:
        staged = stage_events(aws)
        try:
            yield staged
        finally:
            staged.close()


def invoke(staged: Staged, name: str) -> tuple[bool, str]:
    aws = staged.aws
    before = staged.observe()
    result = aws.runtime.invoke(aws.function(EXPECTED[name].function).name, event_payload(name))
    answer = result.json() if result.payload else None
    if result.error_type is not None and not isinstance(answer, dict):
        answer = {"errorType": result.error_type, "errorMessage": str(answer)}
    return staged.judge(name, answer, before, staged.observe())


def test_every_events_file_gets_its_expected_answer_from_its_function(staged: Staged) -> None:
    # Given the staged account: every events file is in the table (or says why not), each
    # ECS-native file's deployment stands at the file's stage, the canary bakes at 90/10
    shipped = {path.name for path in EVENTS.glob("*.json")}
    assert shipped == set(EXPECTED) | set(NOT_STAGED)
    native = [load(name) for name in EXPECTED if name.startswith("ecs-native-")]
    assert {(e["resourceArn"], e["lifecycleStage"]) for e in native} == {
        (arn, d.stage)
        for arn, d in staged.aws.ecs_emulation.deployments.items()
        if d.status == "IN_PROGRESS"
    }
    assert staged.shop_weights() == CANARY
    # and env.json (`sam local invoke --env-vars`) holds what the staged stack deployed
    assert json.loads(ENV_FILE.read_text(encoding="utf-8")) == env_vars(staged.aws)
    # and a refusal is never the answer expected of a hook
    refusal = {"errorType": "HookReportFailed", "errorMessage": "could not report"}
    assert staged.judge("codedeploy-BeforeInstall.json", refusal, {}, {}) == (
        False,
        "HookReportFailed: could not report",
    )

    # When each file is sent to its function, the unrelated alarms before the guarded one
    order = sorted(EXPECTED, key=lambda name: name == "alarm-state-change-guarded.json")
    verdicts = {name: invoke(staged, name) for name in order}

    # Then each answer is the expected one, and the emulator shows it
    failed = {name: detail for name, (ok, detail) in verdicts.items() if not ok}
    assert failed == {}
    assert staged.canary_record() == "ROLLED_BACK"
    assert staged.canary_status() == "ABORTED"


def test_each_hook_file_names_its_own_deployment_and_execution() -> None:
    # Given the hook events files
    codedeploy = [load(name) for name in EXPECTED if name.startswith("codedeploy-")]
    native = [load(name) for name in EXPECTED if name.startswith("ecs-native-")]

    # Then no two share a deployment or an execution: none gets another's cached answer
    assert len({e["DeploymentId"] for e in codedeploy}) == len(codedeploy) == 5
    assert len({e["LifecycleEventHookExecutionId"] for e in codedeploy}) == 5
    assert len({e["executionId"] for e in native}) == len(native) == 5
    assert len({e["resourceArn"] for e in native}) == 5
