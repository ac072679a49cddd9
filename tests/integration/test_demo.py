"""`make demo` runs to its happy ending: three EC2 switches and three ECS ones (CodeDeploy
twice, ECS-native once) on the example fleets deployed from their templates, as narrated."""

from __future__ import annotations

import pytest

from bluegreen_emulator import demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_demo_tells_the_six_switches_and_ends_as_it_says() -> None:
    # Given the demo on a fast clock (300 s bakes take 0.6 s)
    lines: list[str] = []
    # When it runs
    code = demo.main(["--scale", "0.002"], out=lines.append)
    text = "\n".join(lines)
    # Then it ends well, and what it printed matches what happened
    assert code == 0, text
    assert text.count("=> SUCCEEDED") == 3
    assert text.count("=> ROLLED_BACK") == 3
    # the EC2 canary moved every route, then the alarm's rollback left them on v42 (green)
    assert "step 1      blue  90% | green  10%  (read back ok)" in text
    assert "fleet      examples/ec2-fleet as stack shop-fleet" in text
    assert "shop-blue-5xx -> ALARM" in text  # the alarm of the colour going live
    assert (
        text.count("now  listener :80 [blue 0% | green 100%]   rule /api/* [blue 0% | green 100%]")
        == 3
    )
    # the ECS release went live; the next one was rolled back naming its hook and the 503
    assert "service runs web:2" in text
    assert "hook AfterAllowTestTraffic Failed: httpProbes: /: status 503" in text
    # and the ECS-native release went live under its own header: the rule shifted to green
    native = text.split("switch 5   ", 1)[1].split("switch 6   ", 1)[0]
    assert "via ecs-native" in native
    assert "=> SUCCEEDED" in native
    assert "now  production -> api-green 100%; service runs api:2" in native
    assert "web:" not in native  # nothing of the other switches under this header
    # the canary that erred more than the live colour was rolled back by the analysis
    analysis = text.split("switch 6   ", 1)[1].split("=" * 20, 1)[0]
    assert "=> ROLLED_BACK" in analysis
    assert "Gate: GateFailed: after step 1 (10%): comparativeAnalysis: green 5xx 5.0%" in analysis
    assert "Fisher exact test (one-sided)" in analysis
