"""The broker topology as data: every name of an installation is in it, once, with the
arguments its declarers must agree on."""

from versioner.common.names import BrokerNames
from versioner.common.topology import DEAD_LETTER_BINDINGS, Topology


def test_every_queue_and_exchange_of_an_installation_is_in_the_topology() -> None:
    names = BrokerNames(prefix="t", lanes=3)
    topology = Topology(names)
    queues = {q.name for q in (*topology.policy_queues, topology.notifier_events)} | {
        topology.notifier_rpc.name
    }
    assert queues == set(names.queues)
    exchanges = {topology.policy, topology.events, topology.credentials, topology.dead_letters}
    assert {e.name for e in exchanges} == set(names.exchanges)


def test_requests_reach_their_queues_through_the_policy_exchange() -> None:
    names = BrokerNames(prefix="t", lanes=2)
    topology = Topology(names)
    for lane, queue in enumerate(topology.lanes):
        [binding] = queue.bindings
        assert (binding.exchange, binding.routing_key) == (topology.policy, names.lane_key(lane))
        assert queue.keeps_its_type
    for queue, key in (
        (topology.management, names.management_key),
        (topology.notifier_rpc, names.notifier_key),
    ):
        assert queue.routing_key == key
        assert queue.bindings[0].exchange == topology.policy
        assert queue.queue_type == "quorum"
        assert queue.arguments["x-dead-letter-exchange"] == names.dead_letter_exchange


def test_dead_letters_are_kept_for_each_reason_worth_keeping() -> None:
    topology = Topology(BrokerNames())
    dead = topology.dead_letter
    assert [b.arguments for b in dead.bindings] == list(DEAD_LETTER_BINDINGS)
    assert {b.exchange for b in dead.bindings} == {topology.dead_letters}
    assert topology.dead_letters.kind == "headers"


def test_lanes_are_classic_unless_asked_to_be_quorum() -> None:
    assert Topology(BrokerNames()).lane(0).queue_type == "classic"
    assert Topology(BrokerNames(lane_type="quorum")).lane(0).queue_type == "quorum"
