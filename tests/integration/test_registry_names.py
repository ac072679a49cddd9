"""The registry's name parameters, on the emulated AWS: a stack deployed to manage shop-*
load balancers plans a switch of shop-alb and refuses one of web-alb, both tagged."""

from __future__ import annotations

import pytest

from bluegreen_emulator import Emulator
from bluegreen_emulator.fixtures.ec2_fleet import build_ec2_fleet
from tests.integration.ec2_helpers import run_switch
from tests.integration.test_registry import refused

pytestmark = pytest.mark.integration


def test_a_load_balancer_outside_the_stacks_names_is_refused_even_tagged() -> None:
    # Given a stack that manages shop-* load balancers, and two tagged fleets
    with Emulator(parameters={"ManagedLoadBalancerNames": "shop-*"}) as aws:
        shop = build_ec2_fleet(aws, name="shop", with_http=False)
        web = build_ec2_fleet(aws, name="web", with_http=False)
        # When each is planned (a dry run)
        planned = run_switch(aws, shop.request(dryRun=True), name="plan-shop")
        run = run_switch(aws, web.request(dryRun=True), name="plan-web")
        # Then shop's is planned, and web's refused by name
        assert planned.status == "SUCCEEDED", planned.cause
        reason = refused(run, "listeners[0]")
        assert reason.startswith("load balancer app/web-alb/"), reason
        assert reason.endswith("is not one this stack manages (ManagedLoadBalancerNames=shop-*)")
