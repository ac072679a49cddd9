"""The emulator's intrinsic functions the example fleets use, resolved as CloudFormation does.

`Fn::GetAZs` gives the region's zones (and refuses another region's), `Fn::Select` picks
one, `Fn::Base64` encodes user data, `Fn::Split`/`Fn::Join` round-trip; a template text
parses with its short-form tags; a function the emulator does not know is refused by name.
"""

from __future__ import annotations

import base64

import pytest

from bluegreen_emulator.stack.template import Resolver, TemplateError, parse_template

pytestmark = pytest.mark.unit


def resolver() -> Resolver:
    found = Resolver("shop-fleet", "eu-west-1", "123456789012", {"AppName": "shop"})
    found.zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    return found


def test_get_azs_gives_the_stacks_region_zones_and_select_picks_one() -> None:
    assert resolver().resolve({"Fn::Select": [1, {"Fn::GetAZs": ""}]}) == "eu-west-1b"
    assert resolver().resolve({"Fn::GetAZs": {"Ref": "AWS::Region"}}) == [
        "eu-west-1a",
        "eu-west-1b",
        "eu-west-1c",
    ]
    with pytest.raises(TemplateError, match="the stack deploys in eu-west-1"):
        resolver().resolve({"Fn::GetAZs": "us-east-1"})


def test_base64_encodes_the_resolved_text() -> None:
    encoded = resolver().resolve({"Fn::Base64": {"Fn::Sub": "echo ${AppName} ${AWS::Region}"}})
    assert base64.b64decode(encoded).decode() == "echo shop eu-west-1"


def test_split_and_join_round_trip() -> None:
    value = {"Fn::Join": ["-", {"Fn::Split": [",", "a,b,c"]}]}
    assert resolver().resolve(value) == "a-b-c"


def test_a_template_text_parses_with_short_form_tags() -> None:
    parsed = parse_template(
        "Resources:\n  Subnet:\n    Type: AWS::EC2::Subnet\n"
        '    Properties: {AvailabilityZone: !Select [0, !GetAZs ""]}\n'
    )
    zone = parsed["Resources"]["Subnet"]["Properties"]["AvailabilityZone"]
    assert resolver().resolve(zone) == "eu-west-1a"
    with pytest.raises(TemplateError, match="no Resources section"):
        parse_template("Outputs: {}", "odd.yaml")


def test_an_unknown_function_is_refused_by_name() -> None:
    with pytest.raises(TemplateError, match="Fn::Cidr is not supported by the emulator"):
        resolver().resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})
