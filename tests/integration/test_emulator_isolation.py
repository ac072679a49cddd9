"""The emulated DynamoDB is serializable: concurrent transactions see each other whole.

Real DynamoDB serializes transactions and conditional writes; moto did not (a cancelled
transaction put back a copy of the table, wiping what others wrote meanwhile). These
tests race writers through a barrier, many times, and check what a user relies on: one
lock holder, the others refused naming it, nobody's items lost, traffic never mixed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bluegreen_emulator import Emulator
from tests.integration.ec2_helpers import ALL_ON_GREEN, Fleets, everything_on, finished, production

pytestmark = pytest.mark.integration

ROUNDS = 4  # each round races SWITCHES switches; the moto-level race below runs 40 rounds
SWITCHES = 3


@pytest.fixture(scope="module")
def shared_aws() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_racing_transactions_take_a_lock_once_and_lose_nothing(shared_aws: Emulator) -> None:
    # Given one table and, each round, writers racing to take the same lock in a
    # transaction that also writes a record of their own
    aws = shared_aws
    ddb = aws.client("dynamodb")
    table = aws.output("DeploymentsTableName")
    for round_number in range(40):
        barrier = threading.Barrier(4)
        outcomes: dict[str, str] = {}

        def take(
            writer: str,
            lock: str = f"LOCK#race-{round_number}",
            barrier: threading.Barrier = barrier,
            outcomes: dict[str, str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": table,
                                "Item": {"pk": {"S": lock}, "sk": {"S": "LOCK"},
                                         "owner": {"S": writer}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": table,
                                "Item": {"pk": {"S": f"DEPLOY#{writer}"}, "sk": {"S": "R"}},
                            }
                        },
                    ]
                )  # fmt: skip
                outcomes[writer] = "took"
            except ddb.exceptions.TransactionCanceledException:
                outcomes[writer] = "cancelled"

        writers = [f"w{round_number}-{i}" for i in range(4)]
        threads = [threading.Thread(target=take, args=(w,)) for w in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        # Then exactly one took it; the lock names it, and its record survived the others'
        # cancellations (which wrote nothing)
        winners = [w for w, outcome in outcomes.items() if outcome == "took"]
        assert len(winners) == 1, outcomes
        lock = ddb.get_item(
            TableName=table, Key={"pk": {"S": f"LOCK#race-{round_number}"}, "sk": {"S": "LOCK"}}
        )["Item"]
        assert lock["owner"]["S"] == winners[0]
        records = [
            w
            for w in writers
            if "Item"
            in ddb.get_item(TableName=table, Key={"pk": {"S": f"DEPLOY#{w}"}, "sk": {"S": "R"}})
        ]
        assert records == winners


def test_switches_started_at_the_same_instant_on_one_listener_run_one_at_a_time(
    shared_aws: Emulator,
) -> None:
    aws = shared_aws
    sfn = aws.client("stepfunctions")
    machine = aws.output("SwitchStateMachineArn")
    fleets = Fleets(aws)
    for round_number in range(ROUNDS):
        # Given a fleet on blue and SWITCHES switches of it started through a barrier
        fleet = fleets.build()
        barrier = threading.Barrier(SWITCHES)
        started: list[str] = []
        request = fleet.request(strategy={"type": "all-at-once"})
        request.pop("testTraffic", None)

        def start(
            name: str,
            payload: dict[str, Any] = request,
            barrier: threading.Barrier = barrier,
            started: list[str] = started,
        ) -> None:
            barrier.wait()
            run = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
            started.append(run["executionArn"])

        names = [f"race-{round_number}-{i}" for i in range(SWITCHES)]
        threads = [threading.Thread(target=start, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        runs = {arn.rsplit(":", 1)[-1]: finished(aws, arn, timeout=120) for arn in started}

        # Then exactly one ran to its end; every other failed fast with LockHeld naming it
        ran = [name for name, run in runs.items() if run.error != "LockHeld"]
        assert len(ran) == 1, {n: (r.status, r.error, r.cause) for n, r in runs.items()}
        (holder,) = ran
        assert runs[holder].status == "SUCCEEDED"
        for name, run in runs.items():
            if name != holder:
                assert run.status == "FAILED"
                assert f"is locked by deployment {holder}" in (run.cause or "")
        # and traffic went wholly to green: never a mix left by two switches
        assert production(aws, fleet) == everything_on(ALL_ON_GREEN)
        fleets.retire(fleet)
