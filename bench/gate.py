"""Benchmark: `deployment started` through the real stack beside the floor, in one run.

The gate is the whole path: HTTP → ingest (auth from its cache, validation) → aio-pika RPC on
the product's lane → policy (its lanes on aio-pika) → one database transaction (state row locked,
deployment, event, audit and outbox rows) → verdict → HTTP. The floor is a bare FastAPI
endpoint doing one raw aio-pika RPC to an echo responder (`bench/floor.py`). Both run as
separate processes on the local RabbitMQ and are driven by the same aiohttp clients, at 1
and at 32 concurrent clients; every request deploys a product never seen before, so no
start waits on another (32 clients spread over many products) and every verdict is "go".

    uv run python bench/gate.py [--seconds 8] [--database-url postgresql+asyncpg://…]

Goal (issue 2): the gate at 32 clients reaches at least half the floor's throughput, and
its p50 at 1 client is within 2× the floor's.
"""

import argparse
import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import aiohttp

AMQP = os.environ.get("VERSIONER_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
TOKEN = "pat_bench_" + uuid.uuid4().hex


@dataclass
class Result:
    """What one load run measured."""

    name: str
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    failures: int

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        """A latency percentile in milliseconds."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        """One row of the report."""
        return (
            f"{self.name:<6} {self.clients:>3} clients  {self.rps:8.0f} req/s  "
            f"p50 {self.percentile(0.5):6.2f} ms  p99 {self.percentile(0.99):7.2f} ms  "
            f"({self.requests} requests, {self.failures} failed)"
        )


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


@contextlib.contextmanager
def processes(*commands: tuple[list[str], dict[str, str]]) -> Iterator[None]:
    """Run commands in the background for the duration of the block."""
    started = [
        subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for command, env in commands
    ]
    try:
        yield
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


async def load(
    name: str, url: str, clients: int, seconds: float, warmup: float, headers: dict[str, str]
) -> Result:
    """Drive `url` with `clients` concurrent clients; measure after a warm-up."""
    counter = itertools.count()
    run = uuid.uuid4().hex[:6]
    latencies: list[float] = []
    failures = 0
    measuring = False
    stop_at = time.monotonic() + warmup + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while time.monotonic() < stop_at:
            body = {
                "product_name": f"bench-{run}-{next(counter)}",
                "version": "1.0.0",
                "environment_name": "production",
                "status": "started",
            }
            began = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
                ok = response.status == 200
            if measuring:
                latencies.append((time.perf_counter() - began) * 1000)
                failures += not ok

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(client(session)) for _ in range(clients)]
        await asyncio.sleep(warmup)
        measuring = True
        began = time.monotonic()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - began
    return Result(name, clients, len(latencies), elapsed, latencies, failures)


async def _remove_queues(prefix: str, floor_queue: str) -> None:
    """Leave no quorum queues behind: idle ones still cost the broker CPU."""
    connection = await aio_pika.connect(AMQP)
    async with connection:
        channel = await connection.channel()
        lanes = int(os.environ.get("VERSIONER_POLICY_LANES", "8"))
        names = [f"{prefix}.policy.lane.{lane}" for lane in range(lanes)]
        names += [f"{prefix}.policy.rpc", f"{prefix}.dead", floor_queue]
        for name in names:
            await channel.queue_delete(name)


def main() -> None:
    """Run both stacks, measure, report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--database-url", default=None, help="policy's database (default: SQLite in a temp dir)"
    )
    parser.add_argument("--clients", default="1,32")
    args = parser.parse_args()
    concurrency = [int(c) for c in args.clients.split(",")]
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        service_env = {
            "VERSIONER_AMQP_URL": AMQP,
            "VERSIONER_BROKER_PREFIX": prefix,
            "VERSIONER_DATABASE_URL": database,
            "VERSIONER_BOOTSTRAP_TOKEN": TOKEN,
            "VERSIONER_HTTP_PORT": "8090",
            "VERSIONER_LOG_LEVEL": "WARNING",
        }
        floor = [sys.executable, str(HERE / "floor.py")]
        queue = f"{prefix}.floor"
        with processes(
            ([str(BIN / "versioner-policy")], service_env),
            ([str(BIN / "versioner-ingest")], service_env),
            ([*floor, "echo", "--amqp", AMQP, "--queue", queue], {}),
            ([*floor, "serve", "--amqp", AMQP, "--queue", queue, "--port", "8091"], {}),
        ):
            _wait_http("http://127.0.0.1:8090/health")
            _wait_http("http://127.0.0.1:8091/docs")
            headers = {"Authorization": f"Bearer {TOKEN}"}
            results: dict[tuple[str, int], Result] = {}
            for clients in concurrency:
                for name, port in (("floor", 8091), ("gate", 8090)):
                    url = f"http://127.0.0.1:{port}/deployment-events/"
                    result = asyncio.run(
                        load(name, url, clients, args.seconds, args.warmup, headers)
                    )
                    results[(name, clients)] = result
                    print(result.line(), flush=True)
    asyncio.run(_remove_queues(prefix, queue))
    print()
    low, high = min(concurrency), max(concurrency)
    throughput = results[("gate", high)].rps / results[("floor", high)].rps
    latency = results[("gate", low)].percentile(0.5) / results[("floor", low)].percentile(0.5)
    print(f"gate/floor throughput at {high} clients: {throughput:.2f} (goal ≥ 0.50)")
    print(f"gate/floor p50 at {low} client(s):      {latency:.2f} (goal ≤ 2.00)")
    print(f"database: {'SQLite' if args.database_url is None else args.database_url.split(':')[0]}")


if __name__ == "__main__":
    main()
