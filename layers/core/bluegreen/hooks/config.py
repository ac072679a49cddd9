"""Hook configuration: which checks run at which lifecycle event, and their parameters.

Sources, first found wins (see docs/hook-configuration.md):
1. per deployment: DeploymentsTable item `pk = HOOKCONFIG#<CodeDeploy deployment id>`,
   `sk = CONFIG`, attribute `config` (a JSON string) - written by the switch state
   machine; for ECS-native, `hookDetails.hookConfig` of the lifecycle hook;
2. per application + deployment group: SSM parameter `<prefix>/<application>/<group>`
   (ECS-native: `<prefix>/ecs/<cluster>/<service>`);
3. the defaults below.

`parse_config` validates the whole document and names the first wrong field, so a bad
configuration fails the hook with a message that says what to fix.

Where probes may go is the stack's decision (`ProbeAllowedHosts`, `ProbeAllowedNetworks`:
see `bluegreen.checks.reach`), not the configuration's: `allowedHosts` here only narrows
the stack's list for one deployment, and `testEndpoint` or a probe's `host` outside the
stack's list fails the probe without a request being sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..checks import reach
from ..checks.analysis_config import AnalysisConfig, parse_analysis_config
from ..checks.probes import Probe, parse_probe
from ..checks.thresholds import COMPARISON_NAMES
from ..errors import InvalidConfiguration, InvalidInput

SCHEMA_VERSION = 1
MAX_PROBES = 10

CODEDEPLOY_EVENTS = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
ECS_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
CHECK_NAMES = (
    "preflight",
    "taskSetSteady",
    "targetHealth",
    "httpProbes",
    "alarmsHold",
    "productionProbes",
    "comparativeAnalysis",
)
# After production traffic moved: these run too when the configuration has
# `productionProbes` or an `analysis` section (and `checks` does not name the event)
AFTER_PRODUCTION_SHIFT = ("AfterAllowTraffic", "POST_PRODUCTION_TRAFFIC_SHIFT")
THEN = ("fail", "pass")

DEFAULT_CHECKS: dict[str, tuple[str, ...]] = {
    "BeforeInstall": ("preflight",),
    "AfterInstall": ("preflight", "taskSetSteady"),
    "AfterAllowTestTraffic": ("taskSetSteady", "targetHealth", "httpProbes"),
    "BeforeAllowTraffic": ("preflight", "targetHealth"),
    "AfterAllowTraffic": ("alarmsHold",),
    "RECONCILE_SERVICE": (),
    "PRE_SCALE_UP": ("preflight",),
    "POST_SCALE_UP": ("taskSetSteady",),
    "TEST_TRAFFIC_SHIFT": (),
    "POST_TEST_TRAFFIC_SHIFT": ("taskSetSteady", "targetHealth", "httpProbes"),
    "PRE_PRODUCTION_TRAFFIC_SHIFT": ("preflight", "targetHealth"),
    "PRODUCTION_TRAFFIC_SHIFT": ("preflight",),
    "POST_PRODUCTION_TRAFFIC_SHIFT": ("alarmsHold",),
}
STATS = ("Sum", "Average", "Maximum", "Minimum", "SampleCount", "p50", "p90", "p95", "p99")


@dataclass(frozen=True)
class MetricThreshold:
    namespace: str
    metric_name: str
    threshold: float
    comparison: str = "GreaterThanThreshold"
    stat: str = "Sum"
    period_seconds: int = 60
    dimensions: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        dims = ",".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace}/{self.metric_name}" + (f"[{dims}]" if dims else "")

    def as_check(self, window_seconds: int) -> dict[str, Any]:
        """This threshold as a metric check (`checks.thresholds.metric_threshold`)."""
        return {
            "id": self.label,
            "type": "custom",
            "threshold": self.threshold,
            "comparison": self.comparison,
            "windowSeconds": max(window_seconds, self.period_seconds),
            "periodSeconds": self.period_seconds,
            "metric": {
                "namespace": self.namespace,
                "name": self.metric_name,
                "dimensions": dict(self.dimensions),
                "stat": self.stat,
            },
        }


@dataclass(frozen=True)
class HookConfig:
    source: str = "defaults"
    alarms: tuple[str, ...] = ()
    min_healthy: int = 1
    probes: tuple[Probe, ...] = (Probe(),)
    production_probes: tuple[Probe, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    test_endpoint: str | None = None
    window_seconds: int = 0
    metrics: tuple[MetricThreshold, ...] = ()
    callback_delay_seconds: int = 30
    max_wait_seconds: int = 600
    poll_seconds: float = 5.0
    analysis: AnalysisConfig | None = None
    when_inconclusive: str = "fail"  # what an analysis that cannot decide means, at the end
    checks: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CHECKS))
    named: frozenset[str] = frozenset()  # events whose checks the configuration names

    def checks_for(self, event: str) -> tuple[str, ...]:
        if event not in self.checks:
            raise InvalidConfiguration("lifecycle event", f"{event!r} is not a hook event")
        names = self.checks[event]
        if event in self.named or event not in AFTER_PRODUCTION_SHIFT:
            return names
        extra = ("productionProbes",) * bool(self.production_probes) + ("comparativeAnalysis",) * (
            self.analysis is not None
        )
        return names + tuple(n for n in extra if n not in names)


DEFAULTS = HookConfig()


def parse_config(raw: Any, source: str) -> HookConfig:
    """Validate a configuration document (a JSON string or an object)."""
    doc = _document(raw, source)
    v = _Validator(source)
    v.keys(
        doc,
        "config",
        {
            "version",
            "alarms",
            "minHealthy",
            "probes",
            "allowedHosts",
            "testEndpoint",
            "productionProbes",
            "verification",
            "analysis",
            "whenInconclusive",
            "waits",
            "checks",
        },
    )
    if doc.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
        v.fail("config.version", f"must be {SCHEMA_VERSION}, got {doc.get('version')!r}")
    allowed = v.strings(doc, "allowedHosts", "config.allowedHosts")
    endpoint = v.optional_str(doc, "testEndpoint", "config.testEndpoint")
    if endpoint is not None:
        v.endpoint(endpoint, allowed)
    verification = v.mapping(doc, "verification", "config.verification")
    v.keys(verification, "config.verification", {"windowSeconds", "metrics"})
    waits = v.mapping(doc, "waits", "config.waits")
    v.keys(waits, "config.waits", {"callBackDelaySeconds", "maxWaitSeconds", "pollSeconds"})
    analysis, then = v.analysis(doc.get("analysis"), doc.get("whenInconclusive"))
    named = frozenset(doc.get("checks") or {}) if isinstance(doc.get("checks"), Mapping) else None
    return HookConfig(
        source=source,
        alarms=v.strings(doc, "alarms", "config.alarms"),
        min_healthy=v.integer(doc, "minHealthy", "config.minHealthy", DEFAULTS.min_healthy, 0),
        probes=v.probes(doc.get("probes"), allowed, "probes", DEFAULTS.probes),
        production_probes=v.probes(doc.get("productionProbes"), allowed, "productionProbes", ()),
        allowed_hosts=allowed,
        test_endpoint=endpoint,
        window_seconds=v.integer(
            verification, "windowSeconds", "config.verification.windowSeconds", 0, 0, 3600
        ),
        metrics=v.metrics(verification.get("metrics")),
        callback_delay_seconds=v.integer(
            waits, "callBackDelaySeconds", "config.waits.callBackDelaySeconds", 30, 1, 900
        ),
        max_wait_seconds=v.integer(
            waits, "maxWaitSeconds", "config.waits.maxWaitSeconds", 600, 0, 86400
        ),
        poll_seconds=v.integer(waits, "pollSeconds", "config.waits.pollSeconds", 5, 1, 60),
        analysis=analysis,
        when_inconclusive=then,
        checks=v.checks(doc.get("checks")),
        named=named or frozenset(),
    )


def _document(raw: Any, source: str) -> Mapping[str, Any]:
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise InvalidConfiguration(
                f"{source}: config", f"is not valid JSON ({error})"
            ) from None
    if not isinstance(raw, Mapping):
        raise InvalidConfiguration(f"{source}: config", "must be a JSON object")
    return raw


class _Validator:
    """Small, explicit validation: every error names the field and the source."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, reason: str) -> None:
        raise InvalidConfiguration(f"{self.source}: {path}", reason)

    def keys(self, doc: Mapping[str, Any], path: str, known: set[str]) -> None:
        unknown = sorted(set(doc) - known)
        if unknown:
            self.fail(path, f"unknown field(s) {unknown}; known: {sorted(known)}")

    def mapping(self, doc: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = doc.get(key, {})
        if not isinstance(value, Mapping):
            self.fail(path, "must be an object")
        return value

    def strings(self, doc: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            self.fail(path, "must be a list of non-empty strings")
        return tuple(value)

    def optional_str(self, doc: Mapping[str, Any], key: str, path: str) -> str | None:
        value = doc.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            self.fail(path, "must be a non-empty string")
        return value

    def integer(
        self,
        doc: Mapping[str, Any],
        key: str,
        path: str,
        default: int,
        low: int,
        high: int = 10**9,
    ) -> int:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(path, f"must be an integer from {low} to {high}, got {value!r}")
        return int(value)

    def number(self, doc: Mapping[str, Any], key: str, path: str) -> float:
        value = doc.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidConfiguration(f"{self.source}: {path}", f"must be a number, got {value!r}")
        return float(value)

    def choice(
        self, doc: Mapping[str, Any], key: str, path: str, options: tuple[str, ...], default: str
    ) -> str:
        value = doc.get(key, default)
        if value not in options:
            self.fail(path, f"must be one of {list(options)}, got {value!r}")
        return str(value)

    def endpoint(self, endpoint: str, allowed: tuple[str, ...]) -> None:
        try:
            target = reach.parse(endpoint)
        except reach.Unreachable as refused:
            self.fail("config.testEndpoint", f"must be an http(s) URL ({refused})")
            return
        if allowed and target.host not in allowed and target.authority not in allowed:
            self.fail("config.testEndpoint", f"host {target.host!r} is not in allowedHosts")

    def probes(
        self, raw: Any, allowed: tuple[str, ...], key: str, default: tuple[Probe, ...]
    ) -> tuple[Probe, ...]:
        if raw is None:
            return default
        if not isinstance(raw, list) or len(raw) > MAX_PROBES:
            self.fail(f"config.{key}", f"must be a list of at most {MAX_PROBES} probes")
        try:
            return tuple(
                Probe.from_mapping(parse_probe(item, f"config.{key}[{index}]", allowed))
                for index, item in enumerate(raw)
            )
        except InvalidInput as wrong:
            raise InvalidConfiguration(f"{self.source}: {wrong.field}", wrong.reason) from None

    def analysis(self, raw: Any, when: Any) -> tuple[AnalysisConfig | None, str]:
        """The comparative analysis (parse_analysis_config) and what an undecided one means."""
        when = {} if when is None else when
        if not isinstance(when, Mapping) or set(when) - {"then"}:
            self.fail("config.whenInconclusive", "must be an object {then: fail|pass}")
        then = self.choice(when, "then", "config.whenInconclusive.then", THEN, "fail")
        if raw is None:
            return None, then
        try:
            return parse_analysis_config(raw, "config.analysis"), then
        except InvalidInput as wrong:
            raise InvalidConfiguration(f"{self.source}: {wrong.field}", wrong.reason) from None

    def metrics(self, raw: Any) -> tuple[MetricThreshold, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.fail("config.verification.metrics", "must be a list")
        known = {
            "namespace",
            "metricName",
            "dimensions",
            "stat",
            "periodSeconds",
            "threshold",
            "comparison",
        }
        metrics = []
        for index, item in enumerate(raw):
            path = f"config.verification.metrics[{index}]"
            if not isinstance(item, Mapping):
                self.fail(path, "must be an object")
            self.keys(item, path, known)
            for key in ("namespace", "metricName"):
                if not isinstance(item.get(key), str) or not item[key]:
                    self.fail(f"{path}.{key}", "is required (a non-empty string)")
            dims = item.get("dimensions", {})
            if not isinstance(dims, Mapping) or not all(isinstance(x, str) for x in dims.values()):
                self.fail(f"{path}.dimensions", "must be an object of string values")
            metrics.append(
                MetricThreshold(
                    namespace=item["namespace"],
                    metric_name=item["metricName"],
                    threshold=self.number(item, "threshold", f"{path}.threshold"),
                    comparison=self.choice(
                        item,
                        "comparison",
                        f"{path}.comparison",
                        COMPARISON_NAMES,
                        COMPARISON_NAMES[0],
                    ),
                    stat=self.choice(item, "stat", f"{path}.stat", STATS, "Sum"),
                    period_seconds=self.integer(
                        item, "periodSeconds", f"{path}.periodSeconds", 60, 1, 86400
                    ),
                    dimensions=tuple(sorted(dims.items())),
                )
            )
        return tuple(metrics)

    def checks(self, raw: Any) -> dict[str, tuple[str, ...]]:
        checks = dict(DEFAULT_CHECKS)
        if raw is None:
            return checks
        if not isinstance(raw, Mapping):
            self.fail("config.checks", "must be an object of lifecycle event -> list of checks")
        for event, names in raw.items():
            if event not in DEFAULT_CHECKS:
                self.fail(
                    f"config.checks.{event}", f"is not a hook event; known: {list(DEFAULT_CHECKS)}"
                )
            if not isinstance(names, list) or any(n not in CHECK_NAMES for n in names):
                self.fail(
                    f"config.checks.{event}",
                    f"must be a list of {list(CHECK_NAMES)}, got {names!r}",
                )
            checks[event] = tuple(names)
        return checks
