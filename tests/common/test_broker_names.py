"""Broker names: one prefix for everything, and a product's lane stable for ever."""

import pytest

from versioner.common.names import BrokerNames
from versioner.common.topology import lane_queue_arguments

PRODUCTS = ["api", "web", "billing-service", "Ünïcødé 🚀", "", "a" * 255, "org/repo"]


def test_a_products_lane_is_pinned() -> None:
    # CRC-32 of the UTF-8 name modulo the lane count: a change here reorders live queues.
    names = BrokerNames(lanes=8)
    assert [names.lane_for(p) for p in ("api", "web", "billing-service")] == [7, 1, 0]
    assert BrokerNames(lanes=256).lane_for("api") == 15


@pytest.mark.parametrize("lanes", [1, 2, 8, 13, 256])
def test_lanes_are_stable_and_within_range(lanes: int) -> None:
    first, second = BrokerNames(prefix="a", lanes=lanes), BrokerNames(prefix="b", lanes=lanes)
    for product in PRODUCTS:
        lane = first.lane_for(product)
        assert 0 <= lane < lanes
        assert lane == first.lane_for(product) == second.lane_for(product)


def test_products_spread_over_the_lanes() -> None:
    names = BrokerNames(lanes=8)
    assert len({names.lane_for(f"product-{i}") for i in range(200)}) == 8


def test_every_name_carries_the_prefix() -> None:
    names = BrokerNames(prefix="acme", lanes=3)
    owned = [
        names.policy_exchange,
        names.management_queue,
        names.dead_letter_exchange,
        names.dead_letter_queue,
        names.events_exchange,
        names.notifier_queue,
        names.notifier_rpc_queue,
        names.credentials_exchange,
        *(names.lane_queue(lane) for lane in range(3)),
    ]
    assert all(name.startswith("acme.") for name in owned)
    assert len({names.lane_queue(lane) for lane in range(3)}) == 3
    assert names.lane_key(2) == "lane.2"


def test_an_installation_lists_every_queue_and_exchange_under_its_prefix() -> None:
    names = BrokerNames(prefix="acme", lanes=3)
    assert len(set(names.queues)) == 3 + 4
    assert names.lane_queue(2) in names.queues
    assert names.notifier_queue in names.queues
    assert set(names.exchanges) == {
        names.policy_exchange,
        names.events_exchange,
        names.credentials_exchange,
        names.dead_letter_exchange,
    }
    # The dead-letter queue and exchange share a name; each list has it once.
    assert all(name.startswith("acme.") for name in (*names.queues, *names.exchanges))


def test_lanes_are_classic_unless_quorum_is_asked_for() -> None:
    classic = lane_queue_arguments(BrokerNames())
    assert classic["x-queue-type"] == "classic"
    assert "x-delivery-limit" not in classic  # classic queues keep no count; policy does
    quorum = lane_queue_arguments(BrokerNames(lane_type="quorum"))
    assert quorum["x-queue-type"] == "quorum"
    assert quorum["x-single-active-consumer"] is True
