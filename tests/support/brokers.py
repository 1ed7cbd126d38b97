"""RabbitMQ nodes of a test's own, to stop and start: never the RabbitMQ the machine runs.

Each node has its own name, AMQP and distribution ports and data folder (owned by the
`rabbitmq` user, as the server drops to it), no plugins, and listens on 127.0.0.1 only. A
restart keeps the data folder, so durable queues and persistent messages come back as they
would after an operator's restart.
"""

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.support.services import answers, free_port, require

STARTUP_S = 60.0


class OwnBroker:
    """One RabbitMQ node in a folder of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = f"vt{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (folder / "env.conf").write_text(f"NODENAME={self.name}\nERL_EPMD_ADDRESS=127.0.0.1\n")
        shutil.chown(folder, "rabbitmq", "rabbitmq")
        for path in folder.iterdir():
            shutil.chown(path, "rabbitmq", "rabbitmq")

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_CONF_ENV_FILE": str(self.folder / "env.conf"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
        }

    async def start(self) -> float:
        """Start the node; the moment (monotonic) it accepts AMQP connections."""
        await asyncio.to_thread(
            subprocess.run,
            ["rabbitmq-server", "-detached"],
            env=self.env(),
            cwd=self.folder,
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + STARTUP_S
        while not answers("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise AssertionError(f"RabbitMQ node {self.name} did not start")
            await asyncio.sleep(0.05)
        return time.monotonic()

    async def stop(self) -> None:
        """Stop the node (as an operator would), waiting until it is gone."""
        await asyncio.to_thread(
            subprocess.run,
            ["rabbitmqctl", "-n", self.name, "stop"],
            env=self.env(),
            check=False,
            capture_output=True,
        )
        deadline = time.monotonic() + STARTUP_S
        while answers("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise AssertionError(f"RabbitMQ node {self.name} did not stop")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def own_broker() -> AsyncIterator[OwnBroker]:
    """A running node of the test's own, stopped and removed afterwards (in a folder under
    /tmp: pytest's own are closed to the `rabbitmq` user)."""
    require(shutil.which("rabbitmq-server") is not None, "rabbitmq-server")
    folder = Path(tempfile.mkdtemp(prefix="versioner-broker-"))
    broker = OwnBroker(folder)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
