"""Products, environments and versions: created on first sight, one record per name."""

import asyncio
from uuid import uuid4

import pytest
from sqlalchemy import insert, text

from tests.support.policy import (
    CI,
    T0,
    Policy,
    build_event,
    count,
    is_postgres,
    recorded,
    recorded_build,
    refused,
    result,
    rows,
)
from versioner.common.messages.management import GetEnvironment, GetProduct, ListVersions
from versioner.common.resources import EnvironmentPublic, Page, VersionPublic
from versioner.policy.catalog import builds
from versioner.policy.context import PolicyContext
from versioner.policy.store.sql import table
from versioner.policy.store.tables import (
    Environment,
    EnvironmentName,
    Product,
    ProductName,
    Version,
)


async def test_a_deployment_event_creates_product_environment_and_version(policy: Policy) -> None:
    d = recorded(await policy.start("api", "1.0.0", "staging"))
    [product] = await rows(policy.ctx, Product)
    [environment] = await rows(policy.ctx, Environment)
    [version] = await rows(policy.ctx, Version)
    assert (product.id, product.name) == (d.product_id, "api")
    assert (environment.id, environment.name, environment.type) == (
        d.environment_id,
        "staging",
        "staging",
    )
    assert (version.id, version.product_id, version.version) == (d.version_id, product.id, "1.0.0")
    assert not version.registered
    assert [n.name for n in await rows(policy.ctx, ProductName)] == ["api"]
    assert [n.name for n in await rows(policy.ctx, EnvironmentName)] == ["staging"]


async def test_later_events_find_the_records_created_on_first_sight(policy: Policy) -> None:
    first = recorded(await policy.report("api", "1.0.0", "staging", "completed"))
    second = recorded(await policy.report("api", "1.0.0", "staging", "failed", invoke_id="r2"))
    assert (second.product_id, second.environment_id, second.version_id) == (
        first.product_id,
        first.environment_id,
        first.version_id,
    )
    assert await count(policy.ctx, Product) == 1
    assert await count(policy.ctx, Environment) == 1
    assert await count(policy.ctx, Version) == 1


async def test_a_build_event_creates_the_product_and_an_unregistered_version(
    policy: Policy,
) -> None:
    build = recorded_build(await policy.build("api", "1.0.0", "started", scm_sha="abc"))
    page = result(await policy.ask(ListVersions(actor=CI, product="api")), Page[VersionPublic])
    [version] = page.items
    assert version.id == build.version_id
    assert not version.registered
    assert version.registered_at is None


async def test_names_are_case_sensitive(policy: Policy) -> None:
    lower = recorded(await policy.start("api", "1.0.0", "prod"))
    upper = recorded(await policy.start("API", "1.0.0", "Prod"))
    assert lower.product_id != upper.product_id
    assert lower.environment_id != upper.environment_id
    assert await count(policy.ctx, Product) == 2
    refused(await policy.ask(GetProduct(actor=CI, ref="Api")), 404)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("prod1", "production"), ("pre-prod", "production"), ("qa-1", "test"), ("foo", "dev")],
)
async def test_an_environment_seen_first_gets_the_type_its_name_implies(
    policy: Policy, name: str, expected: str
) -> None:
    recorded(await policy.start("api", "1.0.0", name))
    environment = result(await policy.ask(GetEnvironment(actor=CI, ref=name)), EnvironmentPublic)
    assert environment.type == expected


async def test_two_first_sights_of_one_new_name_at_once_create_one_product(
    ctx: PolicyContext,
) -> None:
    one, two = await asyncio.gather(
        builds.handle_build_event(ctx, build_event("fresh", "1.0.0", "started")),
        builds.handle_build_event(ctx, build_event("fresh", "2.0.0", "started")),
    )
    assert recorded_build(one).product_id == recorded_build(two).product_id
    assert await count(ctx, Product) == 1
    assert [n.name for n in await rows(ctx, ProductName)] == ["fresh"]
    assert await count(ctx, Version) == 2


async def test_a_first_sight_that_loses_the_race_takes_the_winners_product(
    ctx: PolicyContext, database_url: str
) -> None:
    if not is_postgres(database_url):
        pytest.skip("SQLite has one writer: two first sights cannot overlap there")
    winner = uuid4()
    async with ctx.db.writer.begin() as other_replica:
        # Another replica has inserted the name and not committed yet.
        await other_replica.execute(
            insert(table(ProductName)).values(name="fresh", product_id=winner, created_at=T0)
        )
        await other_replica.execute(
            insert(table(Product)).values(
                id=winner, name="fresh", meta={}, created_at=T0, updated_at=T0
            )
        )
        loser = asyncio.create_task(
            builds.handle_build_event(ctx, build_event("fresh", "1.0.0", "started"))
        )
        await _until_a_transaction_waits_for_a_lock(ctx)
    build = recorded_build(await loser)
    assert build.product_id == winner
    assert await count(ctx, Product) == 1


async def _until_a_transaction_waits_for_a_lock(ctx: PolicyContext) -> None:
    """Ask PostgreSQL, round trip after round trip, until a session of this database waits on
    a lock (each query is the pause between two looks)."""
    probe = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        async with ctx.db.reader.connect() as conn:
            if (await conn.execute(probe)).scalar_one():
                return
        assert asyncio.get_running_loop().time() < deadline, "nobody waited for the lock"


async def test_an_unknown_product_is_404(policy: Policy) -> None:
    refused(await policy.ask(GetProduct(actor=CI, ref="nothing")), 404)
