"""The bench's time to restore, on the emulated AWS: a real canary whose green fails is
measured from green's first 5xx to production back on blue, for both rollback paths.

The figures are emulated seconds (the emulator's clock), so they are exact: nothing here
depends on how long the machine took.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bluegreen_bench import restore, switch_runs
from bluegreen_emulator import Emulator
from tests.integration.ec2_helpers import ALL_ON_BLUE, everything_on, production

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bench() -> Iterator[tuple[Emulator, switch_runs.CallLog, switch_runs.Fleets]]:
    with Emulator() as aws, switch_runs.recording(aws) as log:
        yield aws, log, switch_runs.Fleets(aws)


def test_a_canary_failing_its_gate_is_timed_from_greens_first_5xx_to_the_restore(
    bench: tuple[Emulator, switch_runs.CallLog, switch_runs.Fleets],
) -> None:
    aws, log, fleets = bench
    # Given a canary baking 120 s, green failing 5% of its users' requests from the shift
    scenario = restore.Scenario("comparative analysis", "analysis", 120)

    # When the bench measures it
    sample = restore.sample(aws, log, fleets, scenario, name="bench-restore-gate")

    # Then its Gate rolled it back, and the settle restored every production route
    assert sample.status == "FAILED"
    assert sample.restored_by == "SettleFunction"
    assert fleets.last is not None
    assert production(aws, fleets.last) == everything_on(ALL_ON_BLUE)
    # 120 s after green's first 5xx: the whole bake, then nothing the emulator times
    assert sample.restored > sample.first_5xx
    assert sample.seconds == pytest.approx(120)
    assert (sample.window, sample.evaluation, sample.restore) == pytest.approx((120, 0, 0))
    # two transitions (Gate, RollBack); the Gate's reads and the settle's claim and writes
    assert sample.transitions == 2
    assert 4 <= sample.calls <= 20
    assert sample.wall_seconds > 0


def test_an_alarm_during_the_bake_is_timed_from_its_state_change(
    bench: tuple[Emulator, switch_runs.CallLog, switch_runs.Fleets],
) -> None:
    aws, log, fleets = bench
    # Given green's 5xx alarm set to ALARM when green serves its first 5xx
    scenario = restore.Scenario("alarm", "alarm", 300)

    # When the bench measures it
    sample = restore.sample(aws, log, fleets, scenario, name="bench-restore-alarm")

    # Then the alarm function restored traffic and the execution was stopped mid-bake
    assert sample.status == "ABORTED"
    assert sample.restored_by == "AlarmRollbackFunction"
    assert sample.detected == pytest.approx(sample.first_5xx)
    assert sample.restored >= sample.detected
    assert sample.seconds == pytest.approx(0)
    # with no state entered after the bake began, and the guard read, the claim and one
    # write per production route
    assert sample.transitions == 0
    assert sample.calls == 4
    assert sample.wall_seconds > 0
