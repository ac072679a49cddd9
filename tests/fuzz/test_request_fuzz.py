"""Fuzzing the state machine's input: the parser says what is wrong, never crashes.

Property: for any JSON document (random, or a valid request with fields replaced,
removed or added at any depth), `parse_request` either returns a normalised request that
is itself JSON, or raises `InvalidInput` naming a field. No other exception, ever.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluegreen.errors import InvalidInput
from bluegreen.requests import parse_request
from tests.conftest import load_event
from tests.fuzz.strategies import json_values, mutated

pytestmark = pytest.mark.unit

EC2 = load_event("switch_request")
ECS = {
    "platform": "ECS",
    "mode": "codedeploy",
    "cluster": "shop",
    "service": "web",
    "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:42",
    "container": {"name": "app", "port": 80},
    "strategy": {"type": "canary", "percent": 10, "bakeSeconds": 300},
    "alarms": ["shop-5xx"],
    "codeDeploy": {"application": "shop", "deploymentGroup": "web"},
    "requestedBy": "ci@example.com",
}
ECS_NATIVE = {
    **{k: v for k, v in ECS.items() if k != "codeDeploy"},
    "mode": "ecs-native",
    "hooks": {
        "productionProbes": [{"path": "/health", "expectStatus": 200}],
        "analysis": {"signals": ["errorRate"], "errorRate": {"minRequests": 100}},
        "whenInconclusive": {"then": "pass"},
        "verification": {"windowSeconds": 300},
    },
}
EC2_FULL = {
    **EC2,
    "strategy": {"type": "steps", "steps": [{"percent": 5, "bakeSeconds": 60}, {"percent": 100}]},
    "metricChecks": [
        {"type": "target5xxRatio", "threshold": 0.01},
        {"type": "custom", "threshold": 3, "metric": {"namespace": "App", "name": "Errors",
                                                      "dimensions": {"Service": "web"}}},
    ],
    "testTraffic": {
        "listenerArn": EC2["listeners"][0],
        "probes": [{"path": "/health/deep", "expect": 200, "contains": "ok"},
                   {"path": "/version", "expectStatus": 200, "expectBody": "v42",
                    "maxLatencyMs": 500}],
    },
    "productionTraffic": {"probes": [{"path": "/health", "timeoutSeconds": 3}]},
    "analysis": {
        "periodSeconds": 60, "alpha": 0.025, "inconclusiveRule": "bound",
        "signals": ["errorRate", "latency"],
        "errorRate": {"relativeTolerance": 0.5, "minRequests": 200},
        "latency": {"stats": ["p50", "p99"], "minPeriods": 6},
        "metrics": [{"id": "checkout", "namespace": "Shop", "metricName": "Checkouts",
                     "stat": "Sum", "dimensions": {"Service": "web"},
                     "colour": {"dimension": "Colour", "green": "green", "blue": "blue"},
                     "direction": "decrease"}],
    },
    "whenInconclusive": {"extendSeconds": 120, "maxExtensions": 3, "then": "fail"},
    "syntheticTraffic": {"path": "/", "ratePerSecond": 5, "maxErrors": 2,
                         "colours": {"blue": "v41", "green": "v42"}},
    "approval": {"required": True, "timeoutSeconds": 600},
}  # fmt: skip


def _parsed_or_refused(document: Any) -> None:
    try:
        request = parse_request(document)
    except InvalidInput as refused:
        assert isinstance(refused.field, str)  # the offending key, "" when the key is ""
        assert isinstance(refused.reason, str) and refused.reason
        return
    json.dumps(request)  # what the machine carries between states must stay JSON


def test_the_valid_examples_are_valid() -> None:
    # The seeds of the mutations parse, so a mutation is what makes a document invalid
    for example in (EC2, EC2_FULL, ECS, ECS_NATIVE):
        assert parse_request(example)["platform"] == example["platform"]


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_document_is_parsed_or_refused_by_name(document: Any) -> None:
    _parsed_or_refused(document)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from([EC2, EC2_FULL, ECS, ECS_NATIVE]).flatmap(mutated))
def test_a_valid_request_with_any_field_broken_is_parsed_or_refused_by_name(
    document: Any,
) -> None:
    _parsed_or_refused(document)
