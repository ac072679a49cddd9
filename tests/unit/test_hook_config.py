"""Hook configuration: validated, documented defaults, and the order sources are read in."""

from __future__ import annotations

import json

import pytest

from bluegreen.errors import InvalidConfiguration
from bluegreen.hooks.config import DEFAULT_CHECKS, DEFAULTS, parse_config
from bluegreen.hooks.loader import load_codedeploy_config, load_ecs_native_config
from tests.unit.test_hook_fakes import FakeClients, client_error

pytestmark = pytest.mark.unit


def test_an_empty_document_means_the_documented_defaults() -> None:
    config = parse_config("{}", "test")
    assert config.checks == DEFAULT_CHECKS
    assert (config.min_healthy, config.window_seconds, config.callback_delay_seconds) == (1, 0, 30)
    assert [p.path for p in config.probes] == ["/"]


def test_checks_for_one_event_override_only_that_event() -> None:
    config = parse_config({"checks": {"AfterInstall": ["taskSetSteady"]}}, "test")
    assert config.checks_for("AfterInstall") == ("taskSetSteady",)
    assert config.checks_for("BeforeInstall") == DEFAULT_CHECKS["BeforeInstall"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2}, "config.version: must be 1"),
        (
            {"testEndpoint": "http://elsewhere.example/", "allowedHosts": ["shop.example"]},
            "config.testEndpoint: host 'elsewhere.example' is not in allowedHosts",
        ),
        (
            {"testEndpoint": "http://admin@shop.example/"},
            "config.testEndpoint: must be an http(s) URL (a probe URL carries no user name",
        ),
        (
            {"testEndpoint": "ftp://shop.example/", "allowedHosts": ["shop.example"]},
            "must be an http(s) URL",
        ),
        (
            {"probes": [{"path": "http://evil.example/"}]},
            "config.probes[0].path: must be an absolute path like /health",
        ),
        (
            {"probes": [{"expectStatus": 700}]},
            "config.probes[0].expectStatus: must be a whole number from 100 to 599",
        ),
        (
            {"verification": {"metrics": [{"metricName": "5xx", "threshold": 1}]}},
            "metrics[0].namespace: is required",
        ),
        (
            {
                "verification": {
                    "metrics": [{"namespace": "N", "metricName": "M", "threshold": "high"}]
                }
            },
            "metrics[0].threshold: must be a number",
        ),
        (
            {
                "verification": {
                    "metrics": [
                        {"namespace": "N", "metricName": "M", "threshold": 1, "comparison": ">"}
                    ]
                }
            },
            "comparison: must be one of",
        ),
        ({"checks": {"Install": ["preflight"]}}, "config.checks.Install: is not a hook event"),
        ({"alarms": "web-5xx"}, "config.alarms: must be a list of non-empty strings"),
        ([], "must be a JSON object"),
    ],
)
def test_a_bad_document_is_refused_naming_source_field_and_reason(
    document: object, message: str
) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        parse_config(document, "ssm:/bluegreen/hooks/app/group")
    assert message in str(refused.value)
    assert str(refused.value).startswith("ssm:/bluegreen/hooks/app/group: ")


def test_ssm_is_read_when_the_deployment_has_none_and_no_parameter_means_defaults() -> None:
    clients = FakeClients()
    assert (
        load_codedeploy_config(clients, "t", "/bluegreen/hooks", "d-1", "app", "group") == DEFAULTS
    )
    clients.ssm.parameters["/bluegreen/hooks/app/group"] = json.dumps({"minHealthy": 4})
    config = load_codedeploy_config(clients, "t", "/bluegreen/hooks/", "d-1", "app", "group")
    assert (config.min_healthy, config.source) == (4, "ssm:/bluegreen/hooks/app/group")


def test_an_ssm_error_other_than_not_found_is_not_mistaken_for_defaults() -> None:
    clients = FakeClients()

    def denied(**_: object) -> None:
        raise client_error("AccessDeniedException", "GetParameter")

    clients.ssm.get_parameter = denied  # type: ignore[method-assign]
    with pytest.raises(Exception, match="AccessDeniedException"):
        load_codedeploy_config(clients, "t", "/bluegreen/hooks", "d-1", "app", "group")


def test_a_deployment_item_without_a_config_string_is_a_configuration_error() -> None:
    clients = FakeClients()
    clients.dynamodb.items[("HOOKCONFIG#d-1", "CONFIG")] = {"config": {"M": {}}}
    with pytest.raises(InvalidConfiguration, match="has no string attribute 'config'"):
        load_codedeploy_config(clients, "t", "/bluegreen/hooks", "d-1", "app", "group")


def test_ecs_native_reads_hook_details_first_then_ssm_per_service() -> None:
    clients = FakeClients()
    clients.ssm.parameters["/bluegreen/hooks/ecs/web-cluster/web"] = json.dumps({"minHealthy": 3})
    from_details = load_ecs_native_config(
        clients, "/bluegreen/hooks", {"hookConfig": {"minHealthy": 5}}, "web-cluster", "web"
    )
    from_ssm = load_ecs_native_config(clients, "/bluegreen/hooks", {}, "web-cluster", "web")
    assert (from_details.min_healthy, from_ssm.min_healthy) == (5, 3)
