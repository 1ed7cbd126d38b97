"""Benchmark: policy evaluation with 500 rules, over an empty history and over 100 000 deployments.

The same 500 rules (schedule, flow, dr_required, version_approval, a tenth report-only,
scoped to a mix of products and environments) are evaluated for `deployment started` of
versions that have history in the flow rules' prerequisites. Two figures per history size:
the engine alone (rules checked inside a transaction, the snapshot warm) and the whole verdict
transaction (`handle_start`: state row, engine, records, outbox). Rules are cheap
when the ratio of the two history sizes stays near 1: indexed queries, no scan of history.

    uv run python bench/policy.py [--database-url postgresql+asyncpg://…] [--samples 300]
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import Connection, insert

from versioner.common.events import DeploymentEventIn
from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.lanes import DeploymentEventReceived, EvaluateDeployment
from versioner.common.messages.management import CreateRule
from versioner.common.status import Status
from versioner.policy.context import PolicyContext
from versioner.policy.deployments.outcomes import handle_deployment_event
from versioner.policy.deployments.start import handle_start
from versioner.policy.rules import admin, engine
from versioner.policy.settings import PolicySettings
from versioner.policy.store import hot_path
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.db import Database
from versioner.policy.store.deadline import Deadline
from versioner.policy.store.migrate import migrate
from versioner.policy.store.sql import table
from versioner.policy.store.tables import (
    Deployment,
    Environment,
    EnvironmentName,
    Product,
    ProductName,
    Version,
)

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
PRODUCTS = [f"svc-{n:03d}" for n in range(100)]
ENVIRONMENTS = ["dev", "test", "staging", "production", "production-eu", "qa"]
RULES = 500


def _rule(n: int, rng: random.Random) -> dict[str, Any]:
    kind = ("schedule", "flow", "dr_required", "version_approval")[n % 4]
    products = rng.sample(PRODUCTS, rng.randint(0, 3)) if n % 3 else []
    config: dict[str, Any]
    environments: list[str] = []
    if kind == "schedule":
        config = {
            "kind": "deny",
            "timezone": rng.choice(["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]),
            "rrule": f"FREQ=WEEKLY;BYDAY={rng.choice(['SA', 'SU'])};BYHOUR=1;BYMINUTE=0",
            "dtstart": "2026-01-03T01:00",
            "duration_minutes": 60,
        }
        environments = rng.sample(ENVIRONMENTS, 1)
    elif kind == "flow":
        target = rng.choice(["production", "production-eu"])
        config = {"prerequisites": ["test", "staging"], "target": target, "min_soak_minutes": 30}
        environments = [target]
    elif kind == "dr_required":
        config = {"approval_types": ["qa"]}
        environments = ["qa-only-env"]
    else:
        config = {"approval_types": ["security"], "environment": "staging"}
        environments = ["production-eu"]
    return {
        "name": f"rule-{n:03d}",
        "rule_type": kind,
        "mode": "report_only" if n % 10 == 0 else "enabled",
        "products": products,
        "environments": environments,
        "config": config,
    }


async def _create_rules(ctx: PolicyContext) -> None:
    rng = random.Random(7)
    for n in range(RULES):
        result = await admin.create_rule(ctx, CreateRule(actor=SYSTEM, **_rule(n, rng)))
        assert not hasattr(result, "status_code"), result


def _history(size: int, rng: random.Random) -> Callable[[Connection], None]:
    """`size` completed deployments over 100 products, their versions and the environments."""

    def work(conn: Connection) -> None:
        products = {name: uuid.uuid4() for name in PRODUCTS}
        environments = {name: uuid.uuid4() for name in ENVIRONMENTS}
        conn.execute(
            insert(table(ProductName)),
            [{"name": n, "product_id": i, "created_at": NOW} for n, i in products.items()],
        )
        conn.execute(
            insert(table(Product)),
            [
                {"id": i, "name": n, "meta": {}, "created_at": NOW, "updated_at": NOW}
                for n, i in products.items()
            ],
        )
        conn.execute(
            insert(table(EnvironmentName)),
            [{"name": n, "environment_id": i, "created_at": NOW} for n, i in environments.items()],
        )
        conn.execute(
            insert(table(Environment)),
            [
                {
                    "id": i,
                    "name": n,
                    "type": "dev",
                    "meta": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n, i in environments.items()
            ],
        )
        per_product = max(size // (len(PRODUCTS) * 4), 1)
        versions = [
            {
                "id": uuid.uuid4(),
                "product_id": product_id,
                "version": f"h{n}",
                "registered": True,
                "created_at": NOW,
            }
            for product_id in products.values()
            for n in range(per_product)
        ]
        for chunk in range(0, len(versions), 5000):
            conn.execute(insert(table(Version)), versions[chunk : chunk + 5000])
        rows = []
        for n in range(size):
            version = versions[n % len(versions)]
            at = NOW - timedelta(minutes=rng.randint(60, 60 * 24 * 90))
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "product_id": version["product_id"],
                    "version_id": version["id"],
                    "environment_id": environments[ENVIRONMENTS[n % len(ENVIRONMENTS)]],
                    "status": "completed",
                    "deployed_at": at,
                    "finished_at": at,
                    "updated_at": at,
                    "sha_mismatch": False,
                    "extra_metadata": {},
                }
            )
            if len(rows) == 5000:
                conn.execute(insert(table(Deployment)), rows)
                rows = []
        if rows:
            conn.execute(insert(table(Deployment)), rows)

    return work


async def _prepare(ctx: PolicyContext, product: str, version: str) -> None:
    """A version done in test and staging an hour ago, so flow rules have history to read."""
    clock = ctx.clock
    assert isinstance(clock, FrozenClock)
    for environment in ("test", "staging"):
        for status in (Status.STARTED, Status.COMPLETED):
            event = DeploymentEventIn(
                product_name=product, version=version, environment_name=environment, status=status
            )
            message = EvaluateDeployment(
                event_id=uuid.uuid4(),
                received_at=clock.now() - timedelta(hours=1),
                actor=SYSTEM,
                event=event,
            )
            if status == "started":
                await handle_start(ctx, message, Deadline())
            else:
                await handle_deployment_event(
                    ctx, DeploymentEventReceived(**message.model_dump(exclude={"kind"}))
                )


def _engine_time(
    ctx: PolicyContext, product: str, version: str, environment: str
) -> Callable[[Connection], float]:
    def work(conn: Connection) -> float:
        target_product = hot_path.product(conn, ctx.names, product, NOW)
        target_environment = hot_path.environment(conn, ctx.names, environment, NOW)
        target_version = hot_path.version(conn, target_product, version, NOW)
        snapshot = ctx.snapshots.current(conn)
        subject = engine.Subject(
            product_id=target_product.id,
            product=product,
            product_names=snapshot.names_of_product(conn, target_product.id),
            version_id=target_version.id,
            version=version,
            environment_id=target_environment.id,
            environment=environment,
            environment_names=snapshot.names_of_environment(conn, target_environment.id),
        )
        began = time.perf_counter()
        engine.evaluate(conn, snapshot, subject, NOW)
        return time.perf_counter() - began

    return work


async def measure(database_url: str, history: int, samples: int) -> tuple[list[float], list[float]]:
    """Engine and whole-verdict latencies (seconds) at one history size."""
    db = Database(database_url)
    await migrate(db)
    ctx = PolicyContext(
        settings=PolicySettings(database_url=database_url), db=db, clock=FrozenClock(NOW)
    )
    await _create_rules(ctx)
    if history:
        await db.run(_history(history, random.Random(11)))
    products = [PRODUCTS[n % len(PRODUCTS)] for n in range(samples)]
    for n, product in enumerate(products):
        await _prepare(ctx, product, f"v{n}")
    engine_times = []
    verdict_times = []
    for n, product in enumerate(products):
        engine_times.append(await db.run(_engine_time(ctx, product, f"v{n}", "production")))
        event = DeploymentEventIn(
            product_name=product,
            version=f"v{n}",
            environment_name="production",
            status=Status.STARTED,
        )
        message = EvaluateDeployment(
            event_id=uuid.uuid4(), received_at=NOW, actor=SYSTEM, event=event
        )
        began = time.perf_counter()
        await handle_start(ctx, message, Deadline())
        verdict_times.append(time.perf_counter() - began)
    await db.dispose()
    return engine_times, verdict_times


def _line(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
    return f"{label:<34} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"


async def main() -> None:
    """Run both history sizes and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite files in a temp dir")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--history", type=int, default=100_000)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in (0, args.history):
            url = args.database_url or f"sqlite+aiosqlite:///{folder}/policy-{size}.db"
            if args.database_url:
                url = await _fresh_postgres(args.database_url, size)
            began = time.perf_counter()
            results[size] = await measure(url, size, args.samples)
            print(
                f"history {size:>7} deployments: measured in {time.perf_counter() - began:.1f} s",
                flush=True,
            )
    for size, (engine_times, verdict_times) in results.items():
        print(_line(f"engine, {RULES} rules, {size} history", engine_times))
        print(_line(f"verdict, {RULES} rules, {size} history", verdict_times))
    empty_engine, empty_verdict = (statistics.median(v) for v in results[0])
    full_engine, full_verdict = (statistics.median(v) for v in results[args.history])
    print(
        f"ratio {args.history} / empty history: engine {full_engine / empty_engine:.2f}, "
        f"verdict {full_verdict / empty_verdict:.2f}"
    )


async def _fresh_postgres(url: str, size: int) -> str:
    base, _, _name = url.rpartition("/")
    name = f"versioner_bench_policy_{size}"
    admin_url = base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


if __name__ == "__main__":
    asyncio.run(main())
