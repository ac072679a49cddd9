"""Each shared check passes on a healthy release and fails (or waits) on a broken one."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.checks import CHECKS, Outcome, run_checks, verdict
from bluegreen.checks.model import CheckContext, Deadline, ReleaseTarget, TargetNotReady
from bluegreen.checks.reach import ReachPolicy
from bluegreen.hooks.config import parse_config
from tests.unit.test_hook_fakes import (
    CLUSTER,
    DNS,
    GREEN_TG,
    SERVICE,
    TD2,
    TEST_LISTENER,
    FakeClients,
    FakeTransport,
)

pytestmark = pytest.mark.unit


def context(
    clients: FakeClients, config: dict[str, Any] | None = None, **kwargs: Any
) -> CheckContext:
    target = ReleaseTarget(
        cluster=CLUSTER,
        service=SERVICE,
        task_definition=TD2,
        task_set_arn="ts-green",
        green_target_groups=(GREEN_TG,),
        test_listeners=(TEST_LISTENER,),
    )
    return CheckContext(
        clients=clients,
        config=parse_config(config or {}, "test"),
        resolve_target=lambda: target,
        deadline=Deadline.after(30),
        transport=kwargs.pop("transport", FakeTransport()),
        **kwargs,
    )


def outcome(name: str, ctx: CheckContext) -> tuple[Outcome, str]:
    result = CHECKS[name](ctx)
    return result.outcome, result.reason


# -- pre-flight ----------------------------------------------------------------------------
def test_preflight_passes_when_no_guarded_alarm_fires() -> None:
    clients = FakeClients()
    clients.cloudwatch.alarms = {"web-5xx": "OK", "web-p99": "INSUFFICIENT_DATA"}
    assert (
        outcome("preflight", context(clients, {"alarms": ["web-5xx", "web-p99"]}))[0]
        is Outcome.PASSED
    )


def test_preflight_fails_naming_the_alarm_in_alarm_and_a_missing_one() -> None:
    clients = FakeClients()
    clients.cloudwatch.alarms = {"web-5xx": "ALARM"}
    firing = outcome("preflight", context(clients, {"alarms": ["web-5xx"]}))
    missing = outcome("preflight", context(clients, {"alarms": ["web-5xx", "web-typo"]}))
    assert firing == (Outcome.FAILED, "web-5xx is ALARM (web-5xx is ALARM)")
    assert missing == (Outcome.FAILED, "guarded alarm(s) do not exist: web-typo")


# -- task set steady -----------------------------------------------------------------------
def test_task_set_steady_passes_when_all_desired_tasks_run() -> None:
    result, reason = outcome("taskSetSteady", context(FakeClients()))
    assert result is Outcome.PASSED
    assert "2/2 running" in reason


def test_task_set_still_starting_is_pending_and_a_scaled_to_zero_one_fails() -> None:
    clients = FakeClients()
    clients.ecs.replacement.update(runningCount=1, pendingCount=1, stabilityStatus="STABILIZING")
    assert outcome("taskSetSteady", context(clients))[0] is Outcome.PENDING
    clients.ecs.replacement.update(computedDesiredCount=0, runningCount=0, pendingCount=0)
    assert outcome("taskSetSteady", context(clients))[0] is Outcome.FAILED


# -- target health -------------------------------------------------------------------------
def test_target_health_passes_at_min_healthy_and_fails_below() -> None:
    clients = FakeClients()
    clients.elbv2.health[GREEN_TG] = ["healthy", "unhealthy", "healthy"]
    assert outcome("targetHealth", context(clients, {"minHealthy": 2}))[0] is Outcome.PASSED
    failed, reason = outcome("targetHealth", context(clients, {"minHealthy": 3}))
    assert failed is Outcome.FAILED
    assert reason == "web-green: 2/3 healthy, need 3; 10.0.0.1: unhealthy"


# -- HTTP probes ---------------------------------------------------------------------------
PROBES = {
    "allowedHosts": ["shop.example.com"],
    "probes": [
        {
            "path": "/health",
            "host": "shop.example.com",
            "expectStatus": 200,
            "expectBody": "web:2",
            "maxLatencyMs": 100,
        }
    ],
}


STACK = ReachPolicy.from_settings("shop.example.com,admin.example.com", "")  # ProbeAllowedHosts


def test_probes_go_to_the_test_listener_with_the_allowed_host_and_pass() -> None:
    transport = FakeTransport({"/health": (200, '{"version": "web:2"}', 12.0)})
    ctx = context(FakeClients(), PROBES, transport=transport, reach=STACK)
    result, _ = outcome("httpProbes", ctx)
    assert result is Outcome.PASSED
    assert transport.requests == [
        (
            f"http://{DNS}:8080/health",
            {"User-Agent": "bluegreen-probe/1", "Host": "shop.example.com"},
        )
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((503, "web:2", 5.0), "/health (Host shop.example.com): status 503, expected 200"),
        ((200, "web:1", 5.0), "/health (Host shop.example.com): body does not contain 'web:2'"),
        ((200, "web:2", 450.0), "/health (Host shop.example.com): 450 ms, budget 100 ms"),
    ],
    ids=["status", "body", "latency"],
)
def test_a_probe_fails_on_status_body_or_latency(
    answer: tuple[int, str, float], expected: str
) -> None:
    transport = FakeTransport({"/health": answer})
    ctx = context(FakeClients(), PROBES, transport=transport, reach=STACK)
    assert outcome("httpProbes", ctx) == (
        Outcome.FAILED,
        expected,
    )


def test_a_probe_that_gets_no_answer_fails() -> None:
    result, reason = outcome(
        "httpProbes", context(FakeClients(), PROBES, transport=FakeTransport({}), reach=STACK)
    )
    assert result is Outcome.FAILED
    assert "no answer" in reason


def test_a_probe_host_outside_the_configurations_own_narrowed_list_is_a_configuration_error() -> (
    None
):
    from bluegreen.errors import InvalidConfiguration

    with pytest.raises(
        InvalidConfiguration, match=r"probes\[0\]\.host: 'evil.example.net' is not in allowedHosts"
    ):
        parse_config(
            {
                "allowedHosts": ["shop.example.com"],
                "probes": [{"path": "/", "host": "evil.example.net"}],
            },
            "test",
        )


@pytest.mark.parametrize(
    "config",
    [
        # the per-deployment configuration names a host the stack does not allow
        {"allowedHosts": ["evil.example.net"], "testEndpoint": "http://evil.example.net/"},
        {"testEndpoint": "http://evil.example.net:8080/"},
        {"allowedHosts": ["evil.example.net"], "probes": [{"host": "evil.example.net"}]},
        # or narrows the stack's list to exclude the host it then uses
        {"allowedHosts": ["shop.example.com"], "testEndpoint": "http://admin.example.com/"},
        # or a form a probe never uses
        {"testEndpoint": "http://user@shop.example.com/"},
        {"testEndpoint": "http://shop.example.com:9001/"},
    ],
    ids=[
        "widen-endpoint",
        "endpoint-not-allowed",
        "widen-host",
        "narrowed-out",
        "userinfo",
        "port",
    ],
)
def test_a_per_deployment_configuration_cannot_widen_where_probes_go(
    config: dict[str, Any],
) -> None:
    # Given a stack that allows shop.example.com and admin.example.com only
    transport = FakeTransport({"/": (200, "ok", 1.0)})
    # When the hook probes with a configuration that names another host
    try:
        ctx = context(FakeClients(), config, transport=transport, reach=STACK)
    except Exception as refused:  # refused when parsed: fine, nothing was sent either
        assert "config" in str(refused)
        assert transport.requests == []
        return
    result, reason = outcome("httpProbes", ctx)
    # Then the check fails saying why, and no request was sent at all
    assert result is Outcome.FAILED
    assert "not probed" in reason
    assert transport.requests == []


def test_a_test_endpoint_the_stack_allows_is_probed_with_its_host() -> None:
    transport = FakeTransport({"/health": (200, "ok web:2", 3.0)})
    config = {"testEndpoint": "https://admin.example.com", "probes": [{"path": "/health"}]}
    result, _ = outcome(
        "httpProbes", context(FakeClients(), config, transport=transport, reach=STACK)
    )
    assert result is Outcome.PASSED
    assert [url for url, _ in transport.requests] == ["https://admin.example.com/health"]


# -- alarms and metrics over the window ------------------------------------------------------
METRICS = {
    "alarms": ["web-5xx"],
    "verification": {
        "windowSeconds": 120,
        "metrics": [
            {
                "namespace": "AWS/ApplicationELB",
                "metricName": "HTTPCode_Target_5XX_Count",
                "threshold": 5,
            }
        ],
    },
}


def test_alarms_hold_passes_when_alarms_are_quiet_and_metrics_under_threshold() -> None:
    clients = FakeClients()
    clients.cloudwatch.alarms = {"web-5xx": "OK"}
    clients.cloudwatch.metrics = {"HTTPCode_Target_5XX_Count": [0, 2, 5]}
    assert outcome("alarmsHold", context(clients, METRICS))[0] is Outcome.PASSED


def test_alarms_hold_fails_on_a_metric_breach_within_the_window() -> None:
    clients = FakeClients()
    clients.cloudwatch.alarms = {"web-5xx": "OK"}
    clients.cloudwatch.metrics = {"HTTPCode_Target_5XX_Count": [0, 9]}
    result, reason = outcome("alarmsHold", context(clients, METRICS))
    assert result is Outcome.FAILED
    assert reason == (
        "AWS/ApplicationELB/HTTPCode_Target_5XX_Count = 9 over the last 120s "
        "(GreaterThanThreshold 5 fails)"
    )


def test_alarms_hold_waits_for_the_window_where_the_contract_can_wait() -> None:
    clients = FakeClients()
    clients.cloudwatch.alarms = {"web-5xx": "OK"}
    clients.cloudwatch.metrics = {"HTTPCode_Target_5XX_Count": [0, 1]}
    waiting = context(clients, METRICS, waits_for_window=True, waited_seconds=60)
    done = context(clients, METRICS, waits_for_window=True, waited_seconds=120)
    assert outcome("alarmsHold", waiting)[0] is Outcome.PENDING
    assert outcome("alarmsHold", done)[0] is Outcome.PASSED


# -- running several -------------------------------------------------------------------------
def test_a_check_whose_target_does_not_exist_yet_fails_with_the_reason() -> None:
    def missing() -> ReleaseTarget:
        raise TargetNotReady("service web has no replacement task set yet")

    ctx = context(FakeClients())
    ctx.resolve_target = missing
    results = run_checks(["taskSetSteady"], ctx)
    assert verdict(results) == (
        Outcome.FAILED,
        "taskSetSteady: service web has no replacement task set yet",
    )
