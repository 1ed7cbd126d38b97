"""`VERSIONER_AMQP_URL` with the nodes of a cluster: parsed, validated, failed over."""

import pytest
from pydantic import ValidationError
from yarl import URL

from tests.support.services import free_port
from versioner.common.broker import FailoverConnection, broker_addresses, connect_hot, failover
from versioner.common.settings import BrokerSettings


def test_one_url_is_one_address() -> None:
    assert broker_addresses("amqp://u:p@rabbit:5672/") == ("amqp://u:p@rabbit:5672/",)


def test_later_addresses_may_be_hosts_taking_the_rest_from_the_first() -> None:
    assert broker_addresses(
        "amqps://u:p@rabbit-0:5671/prod?heartbeat=30, rabbit-1,rabbit-2:5673"
    ) == (
        "amqps://u:p@rabbit-0:5671/prod?heartbeat=30",
        "amqps://u:p@rabbit-1:5671/prod?heartbeat=30",
        "amqps://u:p@rabbit-2:5673/prod?heartbeat=30",
    )


def test_later_addresses_may_be_whole_urls() -> None:
    assert broker_addresses("amqp://a:b@10.0.0.1/,amqp://c:d@10.0.0.2:5673/x") == (
        "amqp://a:b@10.0.0.1/",
        "amqp://c:d@10.0.0.2:5673/x",
    )


@pytest.mark.parametrize(
    "url",
    [
        "",
        "amqp://u:p@rabbit/,",
        "http://rabbit/",
        "amqp://u:p@rabbit/,rabbit-1:port",
        "rabbit-0,rabbit-1",
    ],
)
def test_a_malformed_list_is_refused_by_the_settings(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        BrokerSettings(amqp_url=url)
    assert "secret" not in str(refused.value)


def test_a_cluster_gets_quorum_lanes_unless_told_otherwise() -> None:
    one = BrokerSettings(amqp_url="amqp://u:p@rabbit/")
    three = BrokerSettings(amqp_url="amqp://u:p@rabbit-0/,rabbit-1,rabbit-2")
    told = BrokerSettings(amqp_url="amqp://u:p@rabbit-0/,rabbit-1", lane_queue_type="classic")
    assert one.names.lane_type == "classic"
    assert three.names.lane_type == "quorum"
    assert three.amqp_addresses[2] == "amqp://u:p@rabbit-2/"
    assert told.names.lane_type == "classic"


def test_one_address_fails_fast_several_wait_for_any_node() -> None:
    assert failover("amqp://u:p@rabbit/").fail_fast
    plan = failover("amqp://u:p@rabbit-0/,rabbit-1")
    assert not plan.fail_fast
    assert plan.first == "amqp://u:p@rabbit-0/"
    assert [str(a) for a in plan.connection_class.ADDRESSES] == [
        "amqp://u:p@rabbit-0/",
        "amqp://u:p@rabbit-1/",
    ]


async def test_a_node_that_does_not_answer_is_passed_over(amqp_url: str) -> None:
    """The first address listens nowhere: the connection goes on to the next, the machine's
    RabbitMQ, keeping aio-pika's options on it."""
    port = URL(amqp_url).port
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    connection = await connect_hot(f"{dead},127.0.0.1:{port}", "versioner-test-failover")
    try:
        assert isinstance(connection, FailoverConnection)
        assert connection.url.port == port
        assert connection.url.query["reconnect_interval"] == "1.0"
        channel = await connection.channel()
        assert not channel.is_closed
    finally:
        await connection.close()
