"""CloudWatch's embedded metric format: metrics from a function's log lines.

A Lambda function that prints an EMF document (a JSON object with
`_aws.CloudWatchMetrics`) to its log has CloudWatch extract the metrics it declares:
each metric's value (a number, or a list of values) under each dimension set, in the
document's namespace, at its `_aws.Timestamp`
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
The emulator does the same as a function's output reaches its log group, through moto's
CloudWatch backend (CloudWatch acting, not the function's role). A line that is not an
EMF document, or is a malformed one, stays a log line only, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.cloudwatch.models import cloudwatch_backends

if TYPE_CHECKING:
    from ..core.host import Host


def metric_data(line: str) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, PutMetricData datum) for each metric of an EMF line; [] otherwise."""
    try:
        document = json.loads(line)
        directive = document["_aws"]
        # moto keeps naive UTC datetimes (utcnow())
        stamp = datetime.fromtimestamp(int(directive["Timestamp"]) / 1000, UTC).replace(tzinfo=None)
        found = []
        for block in directive["CloudWatchMetrics"]:
            for names in block.get("Dimensions", [[]]):
                dimensions = [{"Name": n, "Value": str(document[n])} for n in names]
                for metric in block["Metrics"]:
                    values = document[metric["Name"]]
                    for value in values if isinstance(values, list) else [values]:
                        datum = {
                            "MetricName": metric["Name"],
                            "Value": float(value),
                            "Unit": metric.get("Unit", "None"),
                            "Dimensions": dimensions,
                            "Timestamp": stamp,
                        }
                        found.append((str(block["Namespace"]), datum))
        return found
    except (ValueError, KeyError, TypeError):
        return []


def publish(host: Host, lines: Iterable[str]) -> None:
    """Put the metrics of every EMF line into the account's CloudWatch."""
    backend = cloudwatch_backends[host.account_id][host.region]
    for line in lines:
        if '"_aws"' not in line:
            continue
        for namespace, datum in metric_data(line):
            backend.put_metric_data(namespace, [datum])
