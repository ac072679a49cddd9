"""Using `bluegreen` wrongly is refused before anything is contacted, with exit 2 and what
to do; flags and spec files make the request the state machine validates; `status`
follows a switch the way its output is read (terminal, log, JSON)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bluegreen_cli import main
from bluegreen_cli.cli import parser
from bluegreen_cli.spec import build_request
from bluegreen_cli.status import Snapshot
from bluegreen_cli.watch import CLEAR, follow

pytestmark = pytest.mark.unit

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
LISTENER = f"{ARN}:listener/app/shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
BLUE = f"{ARN}:targetgroup/shop-blue/6d0ecf831eec9f09"
GREEN = f"{ARN}:targetgroup/shop-green/1d2e3f4a5b6c7d8e"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_flags_make_the_request_and_override_the_spec_file(tmp_path: Path) -> None:
    # Given a YAML spec with a canary, and flags that change the strategy and add approval
    spec = tmp_path / "switch.yaml"
    spec.write_text(
        f"platform: EC2\nlisteners: [{LISTENER}]\nblueTargetGroupArn: {BLUE}\n"
        f"greenTargetGroupArn: {GREEN}\nstrategy: {{type: canary, percent: 10, bakeSeconds: 60}}\n",
        encoding="utf-8",
    )
    args = parser().parse_args(
        [
            *("deploy", str(spec), "--steps", "5,50,100:30"),
            *("--require-approval", "--requested-by", "ci@example.com"),
        ]
    )

    # When the request is built
    request = build_request(args)

    # Then the flags win and the file's other fields stay
    assert request["strategy"] == {
        "type": "steps",
        "steps": [
            {"percent": 5, "bakeSeconds": 30},
            {"percent": 50, "bakeSeconds": 30},
            {"percent": 100, "bakeSeconds": 30},
        ],
    }
    assert request["approval"] == {"required": True}
    assert request["listeners"] == [LISTENER]
    assert request["requestedBy"] == "ci@example.com"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            [
                "plan",
                "--listener",
                "not-an-arn",
                "--blue",
                BLUE,
                "--green",
                GREEN,
                "--canary",
                "10",
            ],
            "listeners[0]: must be an ALB listener ARN",
        ),
        (
            ["deploy", "--listener", LISTENER, "--blue", BLUE, "--green", GREEN, "--canary", "x:1"],
            "--canary 'x:1': expected PERCENT[:BAKE_SECONDS]",
        ),
        (
            ["deploy", "--listener", LISTENER, "--blue", BLUE, "--green", BLUE, "--all-at-once"],
            "greenTargetGroupArn: must differ from blueTargetGroupArn",
        ),
        (["deploy", "/no/such/file.json"], "cannot read the spec file /no/such/file.json"),
    ],
)
def test_bad_input_exits_2_naming_the_field_before_contacting_anything(
    argv: list[str], says: str
) -> None:
    # Unit tests cannot open a connection: reaching AWS would fail differently
    code, _, err = run(*argv)
    assert code == 2
    assert says in err
    assert "what to do:" in err


def test_a_broken_spec_file_says_where(tmp_path: Path) -> None:
    spec = tmp_path / "switch.json"
    spec.write_text('{"platform": "EC2",', encoding="utf-8")
    code, _, err = run("plan", str(spec))
    assert code == 2
    assert f"the spec file {spec} is not valid JSON" in err


def test_bad_usage_exits_2_and_json_errors_are_json() -> None:
    code, _, _ = run("deploy", "--canary", "10", "--linear", "5")
    assert code == 2
    code, out, _ = run("deploy", "--json", "--listener", "nope", "--all-at-once")
    assert code == 2
    assert json.loads(out)["exitCode"] == 2


def _snapshot(status: str, approval: str = "", timeline: int = 1) -> Snapshot:
    from bluegreen_cli.progress import Entry

    return Snapshot(
        deployment_id="rel-9",
        execution_arn="arn:aws:states:eu-west-1:123456789012:execution:bluegreen-switch:rel-9",
        status=status,
        outcome="",
        state="Bake" if status == "RUNNING" else "",
        started_at="2026-11-24T09:30:00+00:00",
        stopped_at="",
        observed_at="2026-11-24T09:31:00+00:00",
        approval=approval,
        timeline=[Entry(f"2026-11-24T09:30:{i:02d}+00:00", f"event {i}") for i in range(timeline)],
    )


def test_a_log_gets_each_timeline_line_once_then_the_final_view() -> None:
    # Given a switch that progresses over three refreshes
    frames = iter(
        [
            _snapshot("RUNNING", timeline=1),
            _snapshot("RUNNING", timeline=2),
            _snapshot("SUCCEEDED", timeline=3),
        ]
    )
    out = io.StringIO()

    # When it is followed with the output going to a log
    last = follow(lambda: next(frames), out, tty=False, sleep=lambda _: None)

    # Then every timeline line was printed once as it came, and the full view at the end
    text = out.getvalue()
    assert last.status == "SUCCEEDED"
    assert text.count("event 1") == 2  # once live, once in the final view
    assert CLEAR not in text
    assert text.index("event 0") < text.index("event 1") < text.index("bluegreen switch rel-9")


def test_following_stops_at_approval_unless_asked_to_go_through() -> None:
    waiting = _snapshot("RUNNING", approval="WAITING")
    assert follow(lambda: waiting, io.StringIO(), sleep=lambda _: None) is waiting
    frames = iter([waiting, waiting, _snapshot("SUCCEEDED")])
    last = follow(lambda: next(frames), io.StringIO(), through_approval=True, sleep=lambda _: None)
    assert last.status == "SUCCEEDED"


def test_json_following_prints_one_line_per_change() -> None:
    frames = iter([_snapshot("RUNNING"), _snapshot("RUNNING"), _snapshot("SUCCEEDED")])
    out = io.StringIO()
    follow(lambda: next(frames), out, as_json=True, sleep=lambda _: None)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["status"] for line in lines] == ["RUNNING", "SUCCEEDED"]
    assert lines[-1]["exitCode"] == 0


def test_the_setup_installs_the_bluegreen_command() -> None:
    # Given the venv `make` bootstraps (pip install -e . --no-deps after the requirements)
    import subprocess
    import sys

    command = Path(sys.executable).parent / "bluegreen"
    assert command.is_file(), f"{command} missing: run `make venv` (or pip install -e . --no-deps)"

    # When it is run, Then it is this CLI
    shown = subprocess.run([str(command), "--help"], check=False, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    for verb in ("deploy", "plan", "status", "approve", "abort", "rollback", "history"):
        assert verb in shown.stdout


def test_a_terminal_gets_the_whole_view_redrawn_in_place() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    frames = iter([_snapshot("RUNNING", timeline=1), _snapshot("SUCCEEDED", timeline=2)])
    screen = Terminal()
    follow(lambda: next(frames), screen, tty=screen.isatty(), sleep=lambda _: None)
    drawn = screen.getvalue().split(CLEAR)[1:]
    assert len(drawn) == 2  # one full frame per refresh, each after clearing the screen
    assert "event 0" in drawn[0] and "event 1" not in drawn[0]
    assert "SUCCEEDED" in drawn[1]


def test_a_mistyped_flag_shows_the_commands_usage_and_the_flag_it_meant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When a flag of `status` is mistyped
    code, _, _ = run("status", "rel-9", "--oncee")

    # Then it is refused with exit 2, with status's usage (not the top level's) and a hint
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("usage: bluegreen status ")
    assert "unrecognized arguments: --oncee; --oncee: did you mean --once?" in err


def test_version_and_help_start_without_the_aws_sdk() -> None:
    # Given a fresh interpreter, When `--version` and `status --help` run
    import subprocess
    import sys

    probe = (
        "import contextlib, io, sys\n"
        "from bluegreen_cli.cli import main\n"
        "for argv in (['--version'], ['status', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main(argv, out=io.StringIO()) == 0\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'rich', 'yaml') if m in sys.modules))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout

    # Then neither boto3, the terminal library nor YAML was imported: they start fast
    assert shown.strip() == "[]"
