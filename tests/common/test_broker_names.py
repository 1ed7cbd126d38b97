"""Broker names: one prefix for everything, and a product's lane stable for ever."""

import pytest

from versioner.common.names import BrokerNames

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
