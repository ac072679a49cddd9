"""The stack's CloudWatch dashboard as a PNG, from the template and CloudWatch's data.

    python scripts/render_dashboard.py --out dashboard.png                   # AWS
    python scripts/render_dashboard.py --endpoint-url http://127.0.0.1:5005 \\
        --out dashboard.png                                                 # make server
    python scripts/render_dashboard.py --after-demo --out docs/dashboard.png # the demo's data

`--after-demo` runs `make demo`'s switches on an emulated account and draws the
dashboard from that account's data, pointed at the demo's EC2 fleet (stack shop-fleet):
the picture in docs/operations.md (`make dashboard-picture`).

The dashboard body is read from template.yaml (`DeploymentsDashboard`), its `!Sub`
resolved for the stack name, region, account and parameters given here, its variables
set to their defaults or to `--var ID=VALUE`. Each metric widget's metrics are read with
GetMetricData (MetricStat queries); its metric-math expressions are evaluated here, for
the subset the dashboard uses (+ - * /, numbers, FILL(m, n)), so the picture is the same
against CloudWatch and against moto (which evaluates no metric math). Alarm widgets show
DescribeAlarms' states; text widgets their first line.

`collect()` returns the panels as data (tested on data put into moto); `draw()` paints
them with matplotlib (a development dependency, imported only there).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "client") not in sys.path:  # run as a script from the project root
    sys.path.insert(0, str(ROOT / "client"))

from bluegreen_emulator.stack.template import Resolver, load_template  # noqa: E402

DASHBOARD = "DeploymentsDashboard"
MAX_QUERIES = 500  # GetMetricData's limit per call
Series = dict[datetime, float]


class DashboardError(Exception):
    """The dashboard cannot be read or rendered; the message says which part."""


@dataclass
class Line:
    label: str
    points: Series
    color: str | None = None


@dataclass
class Panel:
    kind: str  # metric | alarm | text
    title: str
    x: int
    y: int
    width: int
    height: int
    lines: list[Line] = field(default_factory=list)
    alarms: list[tuple[str, str]] = field(default_factory=list)  # (name, state)
    text: str = ""  # a text widget's markdown after its first line
    y_min: float | None = None
    y_max: float | None = None


# -- the body from the template ---------------------------------------------------------------
def dashboard_body(
    template_path: Path,
    stack: str,
    region: str,
    account: str,
    parameters: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The dashboard body CloudFormation would create, with its variables applied."""
    template = load_template(template_path)
    resources = template["Resources"]
    if DASHBOARD not in resources:
        raise DashboardError(f"{template_path} has no {DASHBOARD} resource")
    declared = template.get("Parameters", {})
    values = {k: str(v.get("Default", "")) for k, v in declared.items()}
    unknown = set(parameters or {}) - set(declared)
    if unknown:
        raise DashboardError(f"not parameters of the template: {sorted(unknown)}")
    values.update(parameters or {})
    resolver = Resolver(stack_name=stack, region=region, account_id=account, parameters=values)
    for logical_id, resource in resources.items():  # alarm ARNs for the alarm widgets
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            name = resource.get("Properties", {}).get("AlarmName", f"{stack}-{logical_id}")
            name = str(resolver.resolve(name))
            arn = f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
            resolver.attributes[(logical_id, "Arn")] = arn
            resolver.refs[logical_id] = name
    text = str(resolver.resolve(resources[DASHBOARD]["Properties"]["DashboardBody"]))
    body = _json(text, "DashboardBody")
    return apply_variables(body, variables or {})


def apply_variables(body: Mapping[str, Any], chosen: Mapping[str, str]) -> dict[str, Any]:
    """Replace each pattern variable's pattern by the chosen value (else its default)."""
    declared = list(body.get("variables", []))
    unknown = set(chosen) - {v.get("id") for v in declared}
    if unknown:
        raise DashboardError(f"the dashboard has no variable {sorted(unknown)[0]!r}")
    widgets = json.dumps(body.get("widgets", []))
    for variable in declared:
        if variable.get("type") != "pattern":
            continue
        value = chosen.get(variable["id"], variable.get("defaultValue", variable["pattern"]))
        widgets = re.sub(variable["pattern"], str(value).replace("\\", "\\\\"), widgets)
    return {**body, "widgets": json.loads(widgets)}


# -- the data ---------------------------------------------------------------------------------
def collect(
    body: Mapping[str, Any], cloudwatch: Any, start: datetime, end: datetime
) -> list[Panel]:
    """Every widget of the body as a panel with its data."""
    panels = []
    for widget in body.get("widgets", []):
        kind = widget.get("type")
        props = widget.get("properties", {})
        panel = Panel(
            kind=str(kind),
            title=str(props.get("title") or _first_line(props.get("markdown", ""))),
            x=int(widget.get("x", 0)),
            y=int(widget.get("y", 0)),
            width=int(widget.get("width", 6)),
            height=int(widget.get("height", 6)),
        )
        if kind == "metric":
            panel.lines = metric_lines(props, cloudwatch, start, end)
            left = (props.get("yAxis") or {}).get("left") or {}
            panel.y_min, panel.y_max = left.get("min"), left.get("max")
        elif kind == "alarm":
            panel.alarms = alarm_states(cloudwatch, props.get("alarms", []))
        elif kind == "text":
            panel.text = "\n".join(str(props.get("markdown", "")).strip().splitlines()[1:])
        panels.append(panel)
    return panels


def metric_lines(
    props: Mapping[str, Any], cloudwatch: Any, start: datetime, end: datetime
) -> list[Line]:
    period = int(props.get("period", 300))
    queries: list[dict[str, Any]] = []
    expressions: list[tuple[str, str, dict[str, Any]]] = []
    shown: list[tuple[str, str, dict[str, Any]]] = []  # (id, label, options) in order
    for index, entry in enumerate(props.get("metrics", [])):
        options = dict(entry[-1]) if entry and isinstance(entry[-1], dict) else {}
        spec = [e for e in entry if not isinstance(e, dict)]
        query_id = str(options.get("id") or f"m{index}")
        if "expression" in options:
            expressions.append((query_id, str(options["expression"]), options))
            label = str(options.get("label") or query_id)
        else:
            queries.append(_metric_stat(query_id, spec, options, props, period))
            label = str(options.get("label") or f"{spec[1]} {options.get('stat', '')}".strip())
        if options.get("visible", True):
            shown.append((query_id, label, options))
    data = _get_metric_data(cloudwatch, queries, start, end)
    timeline = _timeline(start, end, period)
    for query_id, expression, _ in expressions:
        data[query_id] = evaluate(expression, data, timeline)
    return [
        Line(label, data.get(query_id, {}), options.get("color"))
        for query_id, label, options in shown
    ]


def _metric_stat(
    query_id: str,
    spec: Sequence[Any],
    options: Mapping[str, Any],
    props: Mapping[str, Any],
    period: int,
) -> dict[str, Any]:
    if len(spec) < 2 or len(spec) % 2:
        raise DashboardError(f"metric {spec!r}: expected [namespace, name, dim, value, ...]")
    namespace, name, *pairs = spec
    dimensions = [
        {"Name": str(k), "Value": str(v)} for k, v in zip(pairs[::2], pairs[1::2], strict=True)
    ]
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
            "Period": int(options.get("period", period)),
            "Stat": str(options.get("stat") or props.get("stat") or "Average"),
        },
        "ReturnData": True,
    }


def _get_metric_data(
    cloudwatch: Any, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, Series]:
    found: dict[str, Series] = {q["Id"]: {} for q in queries}
    for first in range(0, len(queries), MAX_QUERIES):
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries[first : first + MAX_QUERIES],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            page = cloudwatch.get_metric_data(**kwargs)
            for result in page["MetricDataResults"]:
                series = found.setdefault(result["Id"], {})
                for stamp, value in zip(result["Timestamps"], result["Values"], strict=False):
                    series[_utc(stamp)] = float(value)
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return found


def alarm_states(cloudwatch: Any, arns: Sequence[str]) -> list[tuple[str, str]]:
    names = [str(arn).rsplit(":alarm:", 1)[-1] for arn in arns]
    if not names:
        return []
    answer = cloudwatch.describe_alarms(AlarmNames=names)
    states = {
        a["AlarmName"]: a["StateValue"]
        for a in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
    }
    return [(name, states.get(name, "MISSING")) for name in names]


# -- metric math (the subset the dashboard uses) ----------------------------------------------
_OPERATORS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
}


def evaluate(expression: str, data: Mapping[str, Series], timeline: Sequence[datetime]) -> Series:
    """A metric-math expression over the query results: ids, numbers, + - * /, FILL.

    Like CloudWatch: an operation between two series keeps the timestamps both have, a
    division by zero drops the point, FILL(m, v) gives m a value at every period.
    """
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as error:
        raise DashboardError(f"expression {expression!r}: {error.msg}") from None
    value = _eval(tree.body, data, timeline, expression)
    if isinstance(value, float):
        return {stamp: value for stamp in timeline}
    return value


def _eval(
    node: ast.AST, data: Mapping[str, Series], timeline: Sequence[datetime], text: str
) -> Series | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in data:
            raise DashboardError(f"expression {text!r}: no metric with id {node.id!r}")
        return data[node.id]
    if isinstance(node, ast.BinOp) and (
        type(node.op) in _OPERATORS or isinstance(node.op, ast.Div)
    ):
        left = _eval(node.left, data, timeline, text)
        right = _eval(node.right, data, timeline, text)
        return _combine(node.op, left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "FILL":
        if len(node.args) != 2:
            raise DashboardError(f"expression {text!r}: FILL takes (metric, value)")
        series = _eval(node.args[0], data, timeline, text)
        fill = _eval(node.args[1], data, timeline, text)
        if not isinstance(series, dict) or not isinstance(fill, float):
            raise DashboardError(f"expression {text!r}: FILL takes (metric, number)")
        return {stamp: series.get(stamp, fill) for stamp in timeline} | series
    raise DashboardError(
        f"expression {text!r}: {ast.unparse(node)!r} is outside the metric math this renderer "
        "evaluates (ids, numbers, + - * /, FILL)"
    )


def _combine(op: ast.operator, left: Series | float, right: Series | float) -> Series | float:
    def apply(a: float, b: float) -> float:
        if isinstance(op, ast.Div):
            return a / b if b else math.nan
        return float(_OPERATORS[type(op)](a, b))

    if isinstance(left, float) and isinstance(right, float):
        return apply(left, right)
    if isinstance(left, float):
        assert isinstance(right, dict)
        pairs = {stamp: (left, value) for stamp, value in right.items()}
    elif isinstance(right, float):
        pairs = {stamp: (value, right) for stamp, value in left.items()}
    else:
        pairs = {stamp: (left[stamp], right[stamp]) for stamp in left.keys() & right.keys()}
    result = {stamp: apply(a, b) for stamp, (a, b) in sorted(pairs.items())}
    return {stamp: value for stamp, value in result.items() if not math.isnan(value)}


def _timeline(start: datetime, end: datetime, period: int) -> list[datetime]:
    stamps = []
    at = _utc(start)
    while at < _utc(end):
        stamps.append(at)
        at += timedelta(seconds=period)
    return stamps


# -- the picture ------------------------------------------------------------------------------
STATE_COLOURS = {"OK": "#2ca02c", "ALARM": "#d62728", "INSUFFICIENT_DATA": "#7f7f7f"}


def draw(
    panels: Sequence[Panel],
    path: Path,
    title: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> None:
    """Paint the panels on the dashboard's 24-column grid; every time axis spans
    `start`..`end` when given (the range the data was read for)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib import patches

    rows = max((p.y + p.height for p in panels), default=1)
    figure = plt.figure(figsize=(16, rows * 0.75), dpi=100)
    grid = figure.add_gridspec(rows, 24, hspace=3.0, wspace=1.5)
    for panel in panels:
        axes = figure.add_subplot(
            grid[panel.y : panel.y + panel.height, panel.x : panel.x + panel.width]
        )
        axes.set_title(panel.title, fontsize=9, loc="left")
        if panel.kind == "metric":
            _draw_metric(axes, panel, mdates)
            if start is not None and end is not None:
                axes.set_xlim(start, end)
        elif panel.kind == "alarm":
            _draw_alarms(axes, panel, patches)
        else:
            axes.axis("off")
            axes.text(0, 0.9, textwrap.fill(panel.text.replace("`", ""), 180), va="top", fontsize=8)
    if title:
        figure.suptitle(title, x=0.01, ha="left", fontsize=11)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)


def _draw_metric(axes: Any, panel: Panel, mdates: Any) -> None:
    drawn = 0
    for line in panel.lines:
        if not line.points:
            continue
        stamps = sorted(line.points)
        axes.plot(
            stamps,
            [line.points[s] for s in stamps],
            marker="o",
            markersize=3,
            label=line.label,
            color=line.color,
        )
        drawn += 1
    if not drawn:
        axes.text(
            0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes, color="#7f7f7f"
        )
    axes.set_ylim(bottom=panel.y_min, top=panel.y_max)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    if drawn:
        axes.legend(fontsize=7, loc="upper left")


def _draw_alarms(axes: Any, panel: Panel, patches: Any) -> None:
    axes.axis("off")
    for row, (name, state) in enumerate(panel.alarms):
        y = 0.85 - row * 0.25
        colour = STATE_COLOURS.get(state, "#ff7f0e")
        square = patches.Rectangle((0.0, y - 0.08), 0.06, 0.16, color=colour)
        square.set_transform(axes.transAxes)
        axes.add_patch(square)
        axes.text(0.09, y, f"{name}\n{state}", va="center", fontsize=8, transform=axes.transAxes)


# -- command line -----------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--stack", default="bluegreen", help="stack name (default %(default)s)")
    parser.add_argument("--region", default=None, help="default: the session's, else us-east-1")
    parser.add_argument("--profile")
    parser.add_argument("--endpoint-url", help="an emulator, e.g. http://127.0.0.1:5005")
    parser.add_argument("--hours", type=float, default=6.0, help="time range ending now")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--var", action="append", default=[], metavar="ID=VALUE", help="dashboard variable"
    )
    parser.add_argument(
        "--after-demo", action="store_true", help="run the demo, draw its emulated account's"
    )
    args = parser.parse_args(argv)
    if args.after_demo:
        return after_demo(args.out, args.template)
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    region = session.region_name or "us-east-1"
    local = (
        {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        if args.endpoint_url
        else {}
    )
    clients = {
        name: session.client(name, region_name=region, endpoint_url=args.endpoint_url, **local)
        for name in ("cloudwatch", "sts")
    }  # type: ignore[call-overload]
    account = clients["sts"].get_caller_identity()["Account"]
    try:
        body = dashboard_body(
            args.template, args.stack, region, account, _pairs(args.parameter), _pairs(args.var)
        )
        end = datetime.now(UTC)
        start = end - timedelta(hours=args.hours)
        start = start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)
        panels = collect(body, clients["cloudwatch"], start, end)
    except DashboardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    draw(
        panels,
        args.out,
        f"{args.stack}-deployments ({region}), last {args.hours:g} h to {end:%Y-%m-%d %H:%M} UTC",
    )
    print(f"wrote {args.out}")
    return 0


def after_demo(out: Path, template: Path) -> int:
    """Run the demo's switches, then draw the dashboard from its emulated account (the
    ALB panels on the demo's EC2 fleet, as DashboardLoadBalancer and its variables set)."""
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from bluegreen_emulator import demo

    def render(aws: Any) -> None:
        stack = aws.client("cloudformation").describe_stacks(StackName="shop-fleet")["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        body = dashboard_body(
            template,
            aws.stack_name,
            aws.region,
            aws.account_id,
            {"DashboardLoadBalancer": outputs["LoadBalancerFullName"]},
            {
                "BlueTargetGroup": outputs["BlueTargetGroupFullName"],
                "GreenTargetGroup": outputs["GreenTargetGroupFullName"],
            },
        )
        end = datetime.now(UTC)
        start = end - timedelta(minutes=30)
        panels = collect(body, aws.client("cloudwatch"), start, end)
        title = f"{aws.stack_name}-deployments, emulated account after the demo's switches"
        draw(panels, out, title, start, end)
        print(f"wrote {out}")

    return demo.main(["--scale", "0.002"], after=render)


def _pairs(items: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: expected KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def _first_line(markdown: str) -> str:
    return markdown.strip().splitlines()[0].lstrip("# ").strip() if markdown.strip() else ""


def _json(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise DashboardError(f"{where} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise DashboardError(f"{where} is not a JSON object")
    return value


def _utc(stamp: datetime) -> datetime:
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


if __name__ == "__main__":
    sys.exit(main())
