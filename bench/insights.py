"""Benchmark: the Insights reports (DORA keys, what the gate cost) over a year of history.

Builds a policy database migrated as policy migrates at start and fills it with thirteen months
of realistic history by bulk inserts: 40 products, each version built (commit and build start
times), then deployed to dev, staging and production in order; some deployments fail and are
retried, some versions never reach production, a few production deployments are rolled back
(an older version deployed again), incidents are attached to production deployments, and the
gate left blocked attempts, blocked and overridden violations, Deployment Requests and
gate-skipped completions. Then calls the two handlers directly (no broker) and reports the
median and p95 of each query shape; the headline, a year of weekly buckets for all products,
must answer in under 300 ms.

    uv run python bench/insights.py [--deployments 100000] [--runs 10] [--analyze]
                                    [--postgres postgresql+asyncpg://…/postgres] [--profile]

`--postgres` runs the same on PostgreSQL too, in a temporary database created and dropped on
that server (analyzed after the load, as autovacuum would be); `--analyze` runs ANALYZE on the
SQLite file too (policy never does: its planner then has no statistics); `--profile` prints
where the headlines' time goes (cProfile, cumulative). A case whose first call takes over two
seconds is timed three times, not `--runs`.
"""

import argparse
import asyncio
import cProfile
import io
import math
import pstats
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel
from sqlalchemy import Connection, Table, func, insert, select, text, update
from sqlmodel import SQLModel

from versioner.common.errors import Failure
from versioner.common.insights import Bucket
from versioner.common.messages.actor import SYSTEM
from versioner.common.messages.management import DoraInsights, GateInsights
from versioner.policy.context import PolicyContext
from versioner.policy.insights import dora, gate
from versioner.policy.settings import PolicySettings
from versioner.policy.store.clock import FrozenClock
from versioner.policy.store.db import Database
from versioner.policy.store.migrate import migrate
from versioner.policy.store.sql import table
from versioner.policy.store.tables import (
    AuditEntry,
    BlockedAttempt,
    Build,
    Deployment,
    DeploymentRequest,
    Environment,
    EnvironmentName,
    Incident,
    Product,
    ProductName,
    RequestEnvironment,
    RequestItem,
    RequestSlot,
    Version,
    ViolationRecord,
)

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
# Thirteen months of history; the reports look at the last twelve.
HISTORY = timedelta(days=395)
YEAR = timedelta(days=365)
PRODUCTS = [f"svc-{n:02d}" for n in range(40)]
ENVIRONMENTS = {"dev": "dev", "staging": "staging", "production": "production"}
INCIDENTS = 1_000
HEADLINE_MS = 300.0
CHUNK = 5_000
SLOW_S = 2.0
# Checks that block a production start, how often each (freeze and soak make the waits).
BLOCKING = (
    ("NO_DEPLOY_WINDOW", "Weekend production freeze", "schedule", 4),
    ("INSUFFICIENT_SOAK_TIME", "Soak in staging", "flow", 3),
    ("FLOW_VIOLATION", "Production after staging", "flow", 1),
    ("QUALITY_APPROVAL_REQUIRED", "QA signs off", "version_approval", 2),
)
PEOPLE = ("rita", "sasha", "devi", "quinn", "sam")


@dataclass
class _Rows:
    """Every row to insert, by table."""

    by_table: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type[SQLModel], row: dict[str, Any]) -> None:
        self.by_table.setdefault(table(model).name, []).append(row)


@dataclass
class _Pair:
    """What a (product, environment) pair last did, so its history stays in order."""

    last_end: datetime
    production: list[tuple[uuid.UUID, datetime]] = field(default_factory=list)


@dataclass(frozen=True)
class _Production:
    """A production deployment, for what attaches to it (incidents, the gate's records)."""

    id: uuid.UUID
    product_id: uuid.UUID
    version_id: uuid.UUID
    deployed: datetime
    ended: datetime
    status: str


def _lognormal(rng: random.Random, median: timedelta, spread: float = 0.8) -> timedelta:
    return median * math.exp(rng.gauss(0.0, spread))


class _History:
    """A year of one installation's history, as rows."""

    def __init__(self, deployments: int, rng: random.Random) -> None:
        self.rng = rng
        self.rows = _Rows()
        self.products = {name: uuid.uuid4() for name in PRODUCTS}
        self.environments = {name: uuid.uuid4() for name in ENVIRONMENTS}
        self.production: list[_Production] = []
        self.deployments = 0
        self.target = deployments

    def build(self) -> _Rows:
        self._catalog()
        per_product = self.target // len(PRODUCTS)
        for product_id in self.products.values():
            self._product(product_id, per_product)
        self._incidents()
        self._gate()
        self._requests()
        return self.rows

    def _catalog(self) -> None:
        for name, product_id in self.products.items():
            self.rows.add(ProductName, {"name": name, "product_id": product_id, "created_at": NOW})
            self.rows.add(
                Product,
                {"id": product_id, "name": name, "meta": {}, "created_at": NOW, "updated_at": NOW},
            )
        for name, environment_id in self.environments.items():
            self.rows.add(
                EnvironmentName, {"name": name, "environment_id": environment_id, "created_at": NOW}
            )
            self.rows.add(
                Environment,
                {
                    "id": environment_id,
                    "name": name,
                    "type": ENVIRONMENTS[name],
                    "meta": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            )

    def _plans(self, per_product: int) -> list[list[tuple[str, list[str], bool]]]:
        """Per version, per environment it reaches: its attempts' outcomes, and whether a
        rollback follows; drawn until the product has its share of deployments."""
        rng = self.rng
        plans: list[list[tuple[str, list[str], bool]]] = []
        count = 0
        while count < per_product:
            plan: list[tuple[str, list[str], bool]] = []
            for environment, reach, fail in (
                ("dev", 1.0, 0.08),
                ("staging", 0.8, 0.06),
                ("production", 0.7, 0.05),
            ):
                if rng.random() >= reach:
                    break
                attempts = ["failed"] if rng.random() < fail else []
                # A failure is usually retried; one in five is abandoned there.
                if not attempts or rng.random() < 0.8:
                    attempts.append("completed")
                rollback = environment == "production" and rng.random() < 0.03
                plan.append((environment, attempts, rollback))
                count += len(attempts) + rollback
                if attempts[-1] == "failed":
                    break
            plans.append(plan)
        return plans

    def _product(self, product_id: uuid.UUID, per_product: int) -> None:
        rng = self.rng
        plans = self._plans(per_product)
        # Versions spread over the history, leaving the last days for the slow ones to land.
        gap = (HISTORY - timedelta(days=6)) / len(plans)
        pairs = {name: _Pair(NOW - HISTORY) for name in ENVIRONMENTS}
        began = NOW - HISTORY
        for n, plan in enumerate(plans):
            began += gap * rng.uniform(0.3, 1.7) if n else gap * rng.random()
            began = min(began, NOW - timedelta(days=5))
            version_id = self._version(product_id, n, began)
            at = began + timedelta(minutes=rng.uniform(8, 25))
            for environment, attempts, rollback in plan:
                pair = pairs[environment]
                wait = {
                    "dev": timedelta(minutes=rng.uniform(2, 15)),
                    "staging": _lognormal(rng, timedelta(hours=4)),
                    "production": _lognormal(rng, timedelta(hours=20), 1.0),
                }[environment]
                # A pair deploys one at a time, newest version last.
                at = max(at + wait, pair.last_end + timedelta(minutes=rng.uniform(3, 30)))
                for status in attempts:
                    at = self._deployment(product_id, version_id, environment, status, at, pair)
                    at += timedelta(minutes=rng.uniform(10, 60))
                if rollback and attempts[-1] == "completed" and len(pair.production) >= 2:
                    older = pair.production[-2][0]
                    at += _lognormal(rng, timedelta(minutes=40))
                    self._deployment(product_id, older, environment, "completed", at, pair)

    def _version(self, product_id: uuid.UUID, n: int, started: datetime) -> uuid.UUID:
        rng = self.rng
        version_id = uuid.uuid4()
        sha = uuid.uuid4().hex + "abcdef01"
        commit = started - _lognormal(rng, timedelta(hours=3), 1.2)
        # One build in ten sent no commit time: its lead time starts at the build.
        with_commit = rng.random() >= 0.1
        self.rows.add(
            Version,
            {
                "id": version_id,
                "product_id": product_id,
                "version": f"1.{n // 20}.{n % 20}",
                "scm_sha": sha,
                "registered": True,
                "registered_at": started + timedelta(minutes=8),
                "created_at": started,
                # What policy keeps of its one build (`catalog/builds.py`, `_note_start`).
                "committed_at": commit if with_commit else None,
                "build_started_at": started,
                "first_built_at": started,
            },
        )
        self.rows.add(
            Build,
            {
                "id": uuid.uuid4(),
                "product_id": product_id,
                "version_id": version_id,
                "status": "completed",
                "scm_sha": sha,
                "source_system": "github",
                "started_at": started,
                "completed_at": started + timedelta(minutes=rng.uniform(4, 20)),
                "extra_metadata": (
                    {"vi_commit_timestamp": commit.isoformat()} if with_commit else {}
                ),
                "created_at": started,
                "updated_at": started,
            },
        )
        return version_id

    def _deployment(
        self,
        product_id: uuid.UUID,
        version_id: uuid.UUID,
        environment: str,
        status: str,
        deployed: datetime,
        pair: _Pair,
    ) -> datetime:
        ended = deployed + timedelta(minutes=self.rng.uniform(2, 12))
        deployment_id = uuid.uuid4()
        self.rows.add(
            Deployment,
            {
                "id": deployment_id,
                "product_id": product_id,
                "version_id": version_id,
                "environment_id": self.environments[environment],
                "status": status,
                "source_system": "github",
                "deployed_by": "ci-bot",
                "deployed_at": deployed,
                "completed_at": ended,
                "finished_at": ended + timedelta(seconds=1),
                "ended_at": ended,
                "sha_mismatch": False,
                "extra_metadata": {},
                "updated_at": ended,
            },
        )
        self.rows.add(
            AuditEntry,
            {
                "at": deployed,
                "actor": "api_key:ci",
                "kind": "deployment.verdict",
                "subject_id": str(deployment_id),
                "summary": f"may start in {environment}",
                "data": {"outcome": "allowed"},
            },
        )
        self.deployments += 1
        pair.last_end = ended
        if environment == "production":
            if status == "completed":
                pair.production.append((version_id, ended))
            self.production.append(
                _Production(deployment_id, product_id, version_id, deployed, ended, status)
            )
        return ended

    def _incidents(self) -> None:
        """Incidents opened after production deployments, before the pair's next one."""
        rng = self.rng
        production = self.environments["production"]
        by_product: dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]] = {}
        for d in self.production:
            if d.status == "completed":
                by_product.setdefault(d.product_id, []).append((d.id, d.ended))
        chosen = rng.sample(
            [(p, i) for p, rows in by_product.items() for i in range(len(rows) - 1)], INCIDENTS
        )
        for n, (product_id, i) in enumerate(chosen):
            deployment_id, ended = by_product[product_id][i]
            following = by_product[product_id][i + 1][1]
            opened = ended + min(_lognormal(rng, timedelta(hours=2)), (following - ended) / 2)
            resolved = opened + _lognormal(rng, timedelta(hours=3), 1.1)
            # The last weeks' incidents are sometimes still open.
            still_open = rng.random() < 0.05 or resolved >= NOW
            self.rows.add(
                Incident,
                {
                    "id": uuid.uuid4(),
                    "incident_id": f"INC-{n:05d}",
                    "product_id": product_id,
                    "environment_id": production,
                    "deployment_id": deployment_id,
                    "status": "opened" if still_open else "resolved",
                    "title": "Elevated error rate",
                    "opened_at": opened,
                    "resolved_at": None if still_open else resolved,
                    "created_by": "api_key:pager",
                    "created_at": opened,
                    "updated_at": resolved if not still_open else opened,
                },
            )

    def _gate(self) -> None:
        """Blocked attempts before some production starts, overrides, gate-skipped ones."""
        rng = self.rng
        production = self.environments["production"]
        weights = [b[3] for b in BLOCKING]
        for d in self.production:
            deployment_id, product_id, version_id, deployed = (
                d.id,
                d.product_id,
                d.version_id,
                d.deployed,
            )
            draw = rng.random()
            if draw < 0.08:
                checks = {rng.choices(BLOCKING, weights)[0] for _ in range(rng.choice((1, 1, 2)))}
                tries = rng.choice((1, 1, 2, 3))
                first = deployed - _lognormal(rng, timedelta(hours=5), 1.0)
                for t in range(tries):
                    at = first + (deployed - first) * t / tries
                    self._blocked(product_id, version_id, production, at, sorted(checks))
            elif draw < 0.095:
                code, rule, kind, _ = rng.choices(BLOCKING, weights)[0]
                actor = rng.choice(PEOPLE)
                self._violation(
                    product_id, version_id, production, deployed, code, rule, kind,
                    "overridden", actor, deployment_id,
                )  # fmt: skip
                self.rows.add(
                    AuditEntry,
                    {
                        "at": deployed,
                        "actor": f"user:{actor}",
                        "kind": "deployment.overridden",
                        "subject_id": str(deployment_id),
                        "summary": f"{actor} overrode {code}",
                        "data": {"reason": "hotfix for a customer outage"},
                    },
                )
            elif draw < 0.1:
                self.rows.add(
                    AuditEntry,
                    {
                        "at": deployed,
                        "actor": "api_key:ci",
                        "kind": "deployment.gate_skipped",
                        "subject_id": str(deployment_id),
                        "summary": "reported completed without asking the gate",
                        "data": {"violations": []},
                    },
                )

    def _blocked(
        self,
        product_id: uuid.UUID,
        version_id: uuid.UUID,
        environment_id: uuid.UUID,
        at: datetime,
        checks: list[tuple[str, str, str, int]],
    ) -> None:
        self.rows.add(
            BlockedAttempt,
            {
                "id": uuid.uuid4(),
                "product_id": product_id,
                "version_id": version_id,
                "environment_id": environment_id,
                "status_code": 428,
                "actor": "api_key:ci",
                "violations": [{"code": code, "rule_name": rule} for code, rule, _, _ in checks],
                "at": at,
            },
        )
        for code, rule, kind, _ in checks:
            self._violation(
                product_id, version_id, environment_id, at, code, rule, kind, "blocked",
                "api_key:ci", None,
            )  # fmt: skip

    def _violation(
        self,
        product_id: uuid.UUID,
        version_id: uuid.UUID,
        environment_id: uuid.UUID,
        at: datetime,
        code: str,
        rule: str,
        kind: str,
        outcome: str,
        actor: str,
        deployment_id: uuid.UUID | None,
    ) -> None:
        self.rows.add(
            ViolationRecord,
            {
                "event_id": uuid.uuid4(),
                "deployment_id": deployment_id,
                "product_id": product_id,
                "version_id": version_id,
                "environment_id": environment_id,
                "rule_name": rule,
                "rule_type": kind,
                "code": code,
                "message": f"{rule}: {code}",
                "outcome": outcome,
                "actor": actor,
                "at": at,
            },
        )

    def _requests(self) -> None:
        """A Deployment Request for one production deployment in forty, QA and security."""
        rng = self.rng
        names = {product_id: name for name, product_id in self.products.items()}
        for n, d in enumerate(self.production):
            if n % 40:
                continue
            product_id, deployed = d.product_id, d.deployed
            request_id = uuid.uuid4()
            submitted = deployed - _lognormal(rng, timedelta(hours=20), 0.9)
            self.rows.add(
                DeploymentRequest,
                {
                    "id": request_id,
                    "name": f"Release {n}",
                    "status": "completed",
                    "created_by": "user:rita",
                    "created_at": submitted - timedelta(minutes=30),
                    "updated_at": deployed,
                    "submitted_at": submitted,
                    "closed_at": deployed,
                },
            )
            self.rows.add(
                RequestItem,
                {
                    "id": uuid.uuid4(),
                    "request_id": request_id,
                    "position": 0,
                    "product": names[product_id],
                    "version": "1.0.0",
                },
            )
            self.rows.add(
                RequestEnvironment,
                {"request_id": request_id, "environment": "production", "position": 0},
            )
            for position, kind in enumerate(("qa", "security")):
                decided = submitted + (deployed - submitted) * rng.uniform(0.2, 0.95)
                self.rows.add(
                    RequestSlot,
                    {
                        "id": uuid.uuid4(),
                        "request_id": request_id,
                        "position": position,
                        "approval_type": kind,
                        "optional": False,
                        "status": "approved",
                        "decided_by": "user:quinn" if kind == "qa" else "user:sam",
                        "decided_at": decided,
                    },
                )


# Parents first, so foreign keys hold on PostgreSQL.
_ORDER = (
    ProductName, Product, EnvironmentName, Environment, Version, Build, Deployment, Incident,
    BlockedAttempt, ViolationRecord, AuditEntry, DeploymentRequest, RequestItem,
    RequestEnvironment, RequestSlot,
)  # fmt: skip


def _insert(rows: _Rows) -> Callable[[Connection], dict[str, int]]:
    def work(conn: Connection) -> dict[str, int]:
        counts = {}
        for model in _ORDER:
            target: Table = table(model)
            batch = rows.by_table.get(target.name, [])
            for start in range(0, len(batch), CHUNK):
                conn.execute(insert(target), batch[start : start + CHUNK])
            counts[target.name] = conn.execute(
                select(func.count()).select_from(target)
            ).scalar_one()
        # What policy keeps as deployments complete (`hot_path.version_completed`).
        versions, deployments = table(Version), table(Deployment)
        conn.execute(
            update(versions).values(
                first_completed_at=select(func.min(deployments.c.ended_at))
                .where(
                    deployments.c.version_id == versions.c.id,
                    deployments.c.status == "completed",
                )
                .scalar_subquery()
            )
        )
        return counts

    return work


@dataclass(frozen=True)
class _Case:
    label: str
    report: str
    product: str | None
    bucket: Bucket


CASES = (
    _Case("dora, all products, a year by week", "dora", None, "week"),
    _Case("gate, all products, a year by week", "gate", None, "week"),
    _Case("dora, all products, a year by month", "dora", None, "month"),
    _Case("gate, all products, a year by month", "gate", None, "month"),
    _Case("dora, one product, a year by week", "dora", PRODUCTS[7], "week"),
    _Case("dora, one product, a year by day", "dora", PRODUCTS[7], "day"),
    _Case("dora, one product, a year by month", "dora", PRODUCTS[7], "month"),
    _Case("gate, one product, a year by day", "gate", PRODUCTS[7], "day"),
    _Case("gate, one product, a year by month", "gate", PRODUCTS[7], "month"),
)
HEADLINES = (CASES[0].label, CASES[1].label)


def _call(ctx: PolicyContext, case: _Case) -> Callable[[], Awaitable[BaseModel | Failure]]:
    period: dict[str, Any] = {
        "actor": SYSTEM,
        "product": case.product,
        "since": NOW - YEAR,
        "until": NOW,
        "bucket": case.bucket,
    }
    if case.report == "dora":
        return lambda: dora.dora(ctx, DoraInsights(**period))
    return lambda: gate.gate(ctx, GateInsights(**period))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def _time(ctx: PolicyContext, case: _Case, runs: int) -> tuple[list[float], BaseModel]:
    call = _call(ctx, case)
    began = time.perf_counter()
    answer = await call()
    assert not isinstance(answer, Failure), answer
    # A case taking seconds is far over its bound already: three runs say by how much.
    if time.perf_counter() - began > SLOW_S:
        runs = min(runs, 3)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return times, answer


def _summary(answer: BaseModel) -> str:
    data = answer.model_dump()
    if "deployment_frequency" in data:
        f, lt = data["deployment_frequency"], data["lead_time"]
        cfr, rt = data["change_failure_rate"], data["recovery_time"]
        return (
            f"{f['deployments']} deployments ({f['level']}), lead time {lt['versions']} versions "
            f"median {_hours(lt['median_s'])} ({lt['level']}), CFR {cfr['rate']} "
            f"[{cfr['failed']} failed, {cfr['rolled_back']} rolled back, {cfr['incidents']} "
            f"incidents] ({cfr['level']}), recovery {rt['restored']}/{rt['failures']} median "
            f"{_hours(rt['median_s'])} ({rt['level']})"
        )
    waits = data["waits"]
    return (
        f"{data['blocked_attempts']} blocked, {data['overrides']['count']} overrides, waits "
        f"freeze {waits['freeze']['versions']} soak {waits['soak']['versions']}, "
        f"{data['request_turnaround']['submitted']} requests, {data['gate_skipped']} skipped"
    )


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f} h"


async def _profile(ctx: PolicyContext, case: _Case) -> str:
    call = _call(ctx, case)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        await call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()


async def measure(url: str, deployments: int, runs: int, *, analyze: bool, profile: bool) -> bool:
    """Fill one database, time every case, print; whether the headlines met their bound."""
    db = Database(url)
    try:
        await migrate(db)
        began = time.perf_counter()
        rows = _History(deployments, random.Random(2026)).build()
        made = time.perf_counter() - began
        counts = await db.run(_insert(rows))
        # PostgreSQL's autovacuum analyzes a table this size within a minute of the load;
        # nothing analyzes policy's SQLite file unless asked (`--analyze`).
        if analyze or not db.is_sqlite:
            async with db.writer.begin() as conn:
                await conn.execute(text("ANALYZE"))
        print(
            f"{db.url.get_backend_name()}: history made in {made:.1f} s, inserted in "
            f"{time.perf_counter() - began - made:.1f} s",
            flush=True,
        )
        print(f"  statistics: {'analyzed' if analyze or not db.is_sqlite else 'none'}")
        print("  rows: " + ", ".join(f"{name} {n}" for name, n in counts.items() if n))
        ctx = PolicyContext(
            settings=PolicySettings(database_url=url), db=db, clock=FrozenClock(NOW)
        )
        met = True
        for case in CASES:
            times, answer = await _time(ctx, case, runs)
            median, p95 = statistics.median(times), _percentile(times, 0.95)
            flag = ""
            if case.label in HEADLINES:
                flag = "  ok" if median < HEADLINE_MS else f"  OVER {HEADLINE_MS:.0f} ms"
                met = met and median < HEADLINE_MS
            print(
                f"  {case.label:<38} median {median:8.1f} ms   p95 {p95:8.1f} ms"
                f"  ({len(times)} runs){flag}"
            )
            print(f"      {_summary(answer)}")
        if profile:
            for case in CASES[:2]:
                print(f"\nprofile, {case.label} (3 calls):\n{await _profile(ctx, case)}")
        return met
    finally:
        await db.dispose()


@dataclass
class _Postgres:
    """A temporary database on a PostgreSQL server, dropped after."""

    server: str
    name: str = field(default_factory=lambda: f"versioner_bench_insights_{uuid.uuid4().hex[:8]}")

    @property
    def admin(self) -> str:
        base = self.server.rpartition("/")[0]
        return base.replace("postgresql+asyncpg://", "postgresql://") + "/postgres"

    @property
    def url(self) -> str:
        return f"{self.server.rpartition('/')[0]}/{self.name}"

    async def run(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


def _databases(folder: str, postgres: str | None) -> Iterator[tuple[str, _Postgres | None]]:
    yield f"sqlite+aiosqlite:///{folder}/policy.db", None
    if postgres:
        server = _Postgres(postgres)
        yield server.url, server


async def main() -> None:
    """Fill, time and report on SQLite (and PostgreSQL with `--postgres`)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10, help="timed calls per case, after one")
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="also on this server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the two headlines")
    parser.add_argument(
        "--analyze", action="store_true", help="ANALYZE the SQLite file after the load"
    )
    args = parser.parse_args()
    met = True
    with tempfile.TemporaryDirectory() as folder:
        for url, server in _databases(folder, args.postgres):
            if server is not None:
                await server.run(f'CREATE DATABASE "{server.name}"')
            try:
                met = (
                    await measure(
                        url, args.deployments, args.runs, analyze=args.analyze, profile=args.profile
                    )
                    and met
                )
            finally:
                if server is not None:
                    await server.run(f'DROP DATABASE IF EXISTS "{server.name}" WITH (FORCE)')
    if not met:
        raise SystemExit(f"a headline took {HEADLINE_MS:.0f} ms or more")


if __name__ == "__main__":
    asyncio.run(main())
