"""A three-node RabbitMQ cluster of a test's own, on this machine (never the machine's RabbitMQ).

Each node is an `OwnBroker` (its own node name, ports and data folder); the second and third
join the first with `rabbitmqctl join_cluster`, as an operator would. `url` lists the three
addresses, comma-separated, the way `VERSIONER_AMQP_URL` takes a cluster.
"""

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.support.brokers import OwnBroker
from tests.support.services import require


class OwnCluster:
    """Nodes that joined the first one."""

    def __init__(self, nodes: list[OwnBroker]) -> None:
        self.nodes = nodes

    @property
    def url(self) -> str:
        """Every node's address, comma-separated (`VERSIONER_AMQP_URL` for a cluster)."""
        first, *others = self.nodes
        return ",".join([first.url, *(f"127.0.0.1:{node.port}" for node in others)])

    def node(self, name: str) -> OwnBroker:
        """The node of that Erlang name."""
        [node] = [n for n in self.nodes if n.name == name]
        return node

    async def ctl(self, node: OwnBroker, *args: str) -> str:
        """`rabbitmqctl` on one node; its output."""
        done = await asyncio.to_thread(
            subprocess.run,
            ["rabbitmqctl", "-n", node.name, *args],
            env=node.env(),
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    async def join(self) -> None:
        """Join every other node to the first, one at a time."""
        first = self.nodes[0]
        for node in self.nodes[1:]:
            await self.ctl(node, "stop_app")
            await self.ctl(node, "join_cluster", first.name)
            await self.ctl(node, "start_app")
        running = await self.ctl(first, "eval", "length(rabbit_nodes:all_running()).")
        assert running.strip() == str(len(self.nodes)), running

    async def queues(
        self, prefix: str, column: str, via: OwnBroker | None = None
    ) -> dict[str, str]:
        """Queue name → one `rabbitmqctl list_queues` column (`leader`, `type`, …) for the
        queues whose name starts with `prefix`, as node `via` sees them (by default the first)."""
        listed = await self.ctl(
            via or self.nodes[0], "list_queues", "name", column, "--quiet", "--no-table-headers"
        )
        return {
            name: value.strip()
            for name, _, value in (line.partition("\t") for line in listed.splitlines())
            if name.startswith(prefix)
        }


@asynccontextmanager
async def own_cluster(size: int = 3) -> AsyncIterator[OwnCluster]:
    """`size` nodes started at once and joined into one cluster; stopped and removed after."""
    require(shutil.which("rabbitmq-server") is not None, "rabbitmq-server")
    folders = [Path(tempfile.mkdtemp(prefix="versioner-cluster-")) for _ in range(size)]
    nodes = [OwnBroker(folder) for folder in folders]
    try:
        await asyncio.gather(*(node.start() for node in nodes))
        cluster = OwnCluster(nodes)
        await cluster.join()
        yield cluster
    finally:
        await asyncio.gather(*(node.stop() for node in nodes), return_exceptions=True)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
