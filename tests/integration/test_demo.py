"""`make demo` runs to its happy ending: three EC2 and two ECS switches, as narrated."""

from __future__ import annotations

import pytest

from bluegreen_emulator import demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_demo_tells_the_five_switches_and_ends_as_it_says() -> None:
    # Given the demo on a fast clock (300 s bakes take 0.6 s)
    lines: list[str] = []
    # When it runs
    code = demo.main(["--scale", "0.002"], out=lines.append)
    text = "\n".join(lines)
    # Then it ends well, and what it printed matches what happened
    assert code == 0, text
    assert text.count("=> SUCCEEDED") == 2
    assert text.count("=> ROLLED_BACK") == 3
    # the EC2 canary moved every route, then the alarm's rollback left them on v42 (green)
    assert "step 1      blue  90% | green  10%  (read back ok)" in text
    assert "shop-5xx -> ALARM" in text
    assert (
        text.count("now  listener :80 [blue 0% | green 100%]   rule /api/* [blue 0% | green 100%]")
        == 3
    )
    # the ECS release went live; the next one was rolled back naming its hook and the 503
    assert "service runs web:2" in text
    assert "hook AfterAllowTestTraffic" in text and "503" in text
    # the canary that erred more than the live colour was rolled back by the analysis
    assert "Gate: GateFailed: after step 1 (10%): comparativeAnalysis: green 5xx 5.0%" in text
    assert "Fisher exact test (one-sided)" in text
