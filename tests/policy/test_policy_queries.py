"""Catalog reads and edits: renames, the state matrix, lists with their cursor and filters."""

from uuid import uuid4

from tests.support.policy import (
    ADMIN,
    CI,
    Policy,
    audit_entries,
    recorded,
    recorded_build,
    refused,
    result,
)
from versioner.common.messages.actor import Actor
from versioner.common.messages.management import (
    GetDeployment,
    GetEnvironment,
    GetProduct,
    GetState,
    GetVersion,
    ListDeployments,
    ListEnvironments,
    ListProducts,
    ListVersions,
    UpdateEnvironment,
    UpdateProduct,
)
from versioner.common.resources import (
    DeploymentPublic,
    EnvironmentPublic,
    Page,
    ProductPublic,
    StateView,
    VersionPublic,
)
from versioner.common.roles import Role

DEVELOPER = Actor(kind="user", id=uuid4(), name="dev", role=Role.DEVELOPER)
SRE = Actor(kind="user", id=uuid4(), name="sre", role=Role.SRE)


async def _product(policy: Policy, ref: str) -> ProductPublic:
    return result(await policy.ask(GetProduct(actor=CI, ref=ref)), ProductPublic)


async def _environment(policy: Policy, ref: str) -> EnvironmentPublic:
    return result(await policy.ask(GetEnvironment(actor=CI, ref=ref)), EnvironmentPublic)


async def _rename_product(policy: Policy, ref: str, name: str) -> ProductPublic:
    product = await _product(policy, ref)
    return result(
        await policy.ask(UpdateProduct(actor=ADMIN, product_id=product.id, name=name)),
        ProductPublic,
    )


async def _state(
    policy: Policy, *, products: list[str] | None = None, environments: list[str] | None = None
) -> StateView:
    request = GetState(actor=CI, products=products or [], environments=environments or [])
    return result(await policy.ask(request), StateView)


# --- products and environments: renames ----------------------------------------------------


async def test_a_product_is_found_by_id_and_by_name(policy: Policy) -> None:
    d = recorded(await policy.start("api", "1.0.0", "production"))
    by_name = await _product(policy, "api")
    by_id = await _product(policy, str(d.product_id))
    assert by_name == by_id
    assert (by_name.id, by_name.name, by_name.previous_names) == (d.product_id, "api", [])


async def test_an_event_with_a_former_name_updates_the_renamed_product(policy: Policy) -> None:
    first = await policy.deploy("api", "1.0.0", "production")
    policy.clock.advance(minutes=1)
    renamed = await _rename_product(policy, "api", "core-api")
    assert renamed.name == "core-api"
    later = recorded(await policy.start("api", "1.0.1", "production"))
    assert later.product_id == first.product_id
    assert (await _product(policy, "api")).id == first.product_id


async def test_an_event_with_a_former_name_is_answered_with_the_current_name(
    policy: Policy,
) -> None:
    await policy.deploy("api", "1.0.0", "production")
    await _rename_product(policy, "api", "core-api")
    later = recorded(await policy.start("api", "1.0.1", "production"))
    assert later.product_name == "core-api"


async def test_an_event_with_a_former_environment_name_is_answered_with_the_current_name(
    policy: Policy,
) -> None:
    await policy.deploy("api", "1.0.0", "perf")
    perf = await _environment(policy, "perf")
    result(
        await policy.ask(UpdateEnvironment(actor=SRE, environment_id=perf.id, name="perf-eu")),
        EnvironmentPublic,
    )
    other = recorded(await policy.start("web", "1.0.0", "perf"))
    assert other.environment_name == "perf-eu"


async def test_a_renamed_product_is_found_by_its_former_name(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=1)
    await _rename_product(policy, "api", "core-api")
    policy.clock.advance(minutes=1)
    await _rename_product(policy, "core-api", "platform-api")
    product = await _product(policy, "api")
    assert product.name == "platform-api"
    assert product.previous_names == ["api", "core-api"]
    assert (await _product(policy, "core-api")).id == product.id


async def test_a_rename_keeps_the_pair_blocked_under_either_name(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    await _rename_product(policy, "api", "core-api")
    refused(await policy.start("core-api", "1.0.1", "production"), 409)
    refused(await policy.start("api", "1.0.1", "production"), 409)


async def test_renaming_to_another_products_name_is_409(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    recorded(await policy.start("web", "1.0.0", "production"))
    web = await _product(policy, "web")
    refused(await policy.ask(UpdateProduct(actor=ADMIN, product_id=web.id, name="api")), 409)
    assert (await _product(policy, "web")).name == "web"


async def test_a_former_name_stays_reserved(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    recorded(await policy.start("web", "1.0.0", "production"))
    await _rename_product(policy, "api", "core-api")
    web = await _product(policy, "web")
    refused(await policy.ask(UpdateProduct(actor=ADMIN, product_id=web.id, name="api")), 409)
    assert (await _product(policy, "api")).name == "core-api"


async def test_a_product_may_take_back_its_own_former_name(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    await _rename_product(policy, "api", "core-api")
    back = await _rename_product(policy, "core-api", "api")
    assert back.name == "api"
    assert back.previous_names == ["core-api"]


async def test_a_rename_is_audited(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    renamed = await _rename_product(policy, "api", "core-api")
    [entry] = await audit_entries(policy.ctx, "product.renamed")
    assert entry.actor == "user:alice"
    assert entry.subject_id == str(renamed.id)
    assert entry.data == {"from": "api", "to": "core-api"}
    assert entry.at == policy.clock.now()


async def test_a_description_and_metadata_change_keeps_the_name(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    product = await _product(policy, "api")
    policy.clock.advance(minutes=1)
    updated = result(
        await policy.ask(
            UpdateProduct(
                actor=ADMIN, product_id=product.id, description="The API", metadata={"team": "x"}
            )
        ),
        ProductPublic,
    )
    assert (updated.name, updated.description, updated.metadata) == (
        "api",
        "The API",
        {"team": "x"},
    )
    assert updated.updated_at == policy.clock.now()
    assert await audit_entries(policy.ctx, "product.renamed") == []


async def test_editing_an_unknown_product_is_404(policy: Policy) -> None:
    refused(await policy.ask(UpdateProduct(actor=ADMIN, product_id=uuid4(), name="x")), 404)


async def test_editing_products_needs_the_role_for_it(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "production"))
    product = await _product(policy, "api")
    refused(await policy.ask(UpdateProduct(actor=DEVELOPER, product_id=product.id, name="x")), 403)
    refused(await policy.ask(UpdateProduct(actor=CI, product_id=product.id, name="x")), 403)


async def test_an_environment_is_renamed_and_retyped(policy: Policy) -> None:
    first = recorded(await policy.start("api", "1.0.0", "perf"))
    environment = await _environment(policy, "perf")
    assert environment.type == "dev"
    updated = result(
        await policy.ask(
            UpdateEnvironment(
                actor=SRE, environment_id=environment.id, name="perf-staging", type="staging"
            )
        ),
        EnvironmentPublic,
    )
    assert (updated.name, updated.type, updated.previous_names) == (
        "perf-staging",
        "staging",
        ["perf"],
    )
    assert (await _environment(policy, "perf")).id == environment.id
    [renamed] = await audit_entries(policy.ctx, "environment.renamed")
    assert renamed.data == {"from": "perf", "to": "perf-staging"}
    [retyped] = await audit_entries(policy.ctx, "environment.retyped")
    assert retyped.data == {"from": "dev", "to": "staging"}
    done = recorded(await policy.report("api", "1.0.0", "perf", "completed"))
    assert (done.id, done.environment_name) == (first.id, "perf-staging")


async def test_renaming_an_environment_to_a_taken_name_is_409(policy: Policy) -> None:
    recorded(await policy.start("api", "1.0.0", "staging"))
    recorded(await policy.start("api", "1.0.0", "production"))
    production = await _environment(policy, "production")
    refused(
        await policy.ask(
            UpdateEnvironment(actor=SRE, environment_id=production.id, name="staging")
        ),
        409,
    )


async def test_a_product_and_an_environment_may_share_a_name(policy: Policy) -> None:
    recorded(await policy.start("prod", "1.0.0", "prod"))
    assert (await _product(policy, "prod")).name == "prod"
    assert (await _environment(policy, "prod")).type == "production"


# --- the state matrix ----------------------------------------------------------------------


async def test_a_cell_shows_the_last_completed_deployment(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "production", deployed_by="dora")
    policy.clock.advance(hours=1)
    done = await policy.deploy("api", "1.1.0", "production", deployed_by="dave")
    state = await _state(policy)
    assert [(e.name, e.type) for e in state.environments] == [("production", "production")]
    [row] = state.products
    assert (row.product, row.product_id, row.drift) == ("api", done.product_id, False)
    cell = row.cells["production"]
    assert (cell.version, cell.deployment_id, cell.deployed_at, cell.deployed_by, cell.status) == (
        "1.1.0",
        done.id,
        done.deployed_at,
        "dave",
        "completed",
    )
    assert cell.latest is None


async def test_environments_are_ordered_dev_test_staging_production_then_by_name(
    policy: Policy,
) -> None:
    for name in ("prod-eu", "production", "staging", "qa", "sandbox", "dev", "uat"):
        await policy.deploy("api", "1.0.0", name)
    state = await _state(policy)
    assert [e.name for e in state.environments] == [
        "dev",
        "sandbox",
        "qa",
        "staging",
        "uat",
        "prod-eu",
        "production",
    ]


async def test_products_are_listed_by_name(policy: Policy) -> None:
    for product in ("web", "api", "worker"):
        await policy.deploy(product, "1.0.0", "production")
    assert [row.product for row in (await _state(policy)).products] == ["api", "web", "worker"]


async def test_latest_shows_a_later_attempt_that_failed(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "production")
    policy.clock.advance(hours=1)
    attempt = recorded(await policy.start("api", "1.1.0", "production"))
    recorded(await policy.report("api", "1.1.0", "production", "failed"))
    cell = (await _state(policy)).products[0].cells["production"]
    assert cell.version == "1.0.0"
    assert cell.latest is not None
    assert (cell.latest.version, cell.latest.status, cell.latest.deployment_id) == (
        "1.1.0",
        "failed",
        attempt.id,
    )


async def test_latest_shows_a_later_attempt_in_progress(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "production")
    attempt = recorded(await policy.start("api", "1.1.0", "production"))
    cell = (await _state(policy)).products[0].cells["production"]
    assert cell.version == "1.0.0"
    assert cell.latest is not None
    assert (cell.latest.status, cell.latest.deployment_id) == ("started", attempt.id)


async def test_a_cell_with_no_completed_deployment_shows_only_the_attempt(policy: Policy) -> None:
    attempt = recorded(await policy.start("api", "1.0.0", "production"))
    recorded(await policy.report("api", "1.0.0", "production", "aborted"))
    cell = (await _state(policy)).products[0].cells["production"]
    assert (cell.version, cell.deployment_id, cell.status) == (None, None, None)
    assert cell.latest is not None
    assert (cell.latest.status, cell.latest.deployment_id) == ("aborted", attempt.id)


async def test_a_blocked_attempt_leaves_the_cell_alone(policy: Policy) -> None:
    done = await policy.deploy("api", "1.0.0", "production")
    recorded_build(await policy.build("api", "1.1.0", "completed", scm_sha="abc"))
    refused(await policy.start("api", "1.1.0", "production", scm_sha="def"), 428)
    cell = (await _state(policy)).products[0].cells["production"]
    assert (cell.deployment_id, cell.latest) == (done.id, None)


async def test_drift_is_more_than_one_version_among_the_cells(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "staging")
    await policy.deploy("api", "1.0.0", "production")
    assert not (await _state(policy)).products[0].drift
    await policy.deploy("api", "1.1.0", "staging")
    assert (await _state(policy)).products[0].drift


async def test_drift_counts_only_the_cells_returned(policy: Policy) -> None:
    await policy.deploy("api", "1.1.0", "staging")
    await policy.deploy("api", "1.0.0", "production")
    [row] = (await _state(policy, environments=["production"])).products
    assert list(row.cells) == ["production"]
    assert not row.drift


async def test_drift_ignores_cells_without_a_completed_deployment(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "production")
    recorded(await policy.start("api", "1.1.0", "staging"))
    recorded(await policy.report("api", "1.1.0", "staging", "failed"))
    assert not (await _state(policy)).products[0].drift


async def test_the_state_is_narrowed_by_any_name_a_record_has_had(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "production")
    await policy.deploy("web", "1.0.0", "staging")
    await _rename_product(policy, "api", "core-api")
    production = await _environment(policy, "production")
    result(
        await policy.ask(
            UpdateEnvironment(actor=ADMIN, environment_id=production.id, name="prod-eu")
        ),
        EnvironmentPublic,
    )
    state = await _state(policy, products=["api"], environments=["production"])
    assert [row.product for row in state.products] == ["core-api"]
    assert [e.name for e in state.environments] == ["prod-eu"]
    assert list(state.products[0].cells) == ["prod-eu"]


async def test_the_state_of_nothing_is_empty(policy: Policy) -> None:
    state = await _state(policy)
    assert (state.environments, state.products) == ([], [])
    assert (await _state(policy, products=["ghost"])).products == []


# --- lists ---------------------------------------------------------------------------------


async def test_products_are_listed_newest_first_with_the_total(policy: Policy) -> None:
    for name in ("a", "b", "c"):
        recorded_build(await policy.build(name, "1.0.0", "started"))
        policy.clock.advance(minutes=1)
    page = result(await policy.ask(ListProducts(actor=CI)), Page[ProductPublic])
    assert [p.name for p in page.items] == ["c", "b", "a"]
    assert page.total == 3


async def test_a_list_is_paged_with_limit_and_before(policy: Policy) -> None:
    for name in ("a", "b", "c", "d"):
        recorded_build(await policy.build(name, "1.0.0", "started"))
        policy.clock.advance(minutes=1)
    first = result(await policy.ask(ListProducts(actor=CI, limit=2)), Page[ProductPublic])
    assert [p.name for p in first.items] == ["d", "c"]
    assert first.total == 4
    second = result(
        await policy.ask(ListProducts(actor=CI, limit=2, before=first.items[-1].id)),
        Page[ProductPublic],
    )
    assert [p.name for p in second.items] == ["b", "a"]
    assert second.total == 4


async def test_the_cursor_breaks_ties_between_records_of_one_instant(policy: Policy) -> None:
    for name in ("a", "b", "c", "d", "e"):
        recorded_build(await policy.build(name, "1.0.0", "started"))
    seen: list[str] = []
    page = result(await policy.ask(ListProducts(actor=CI, limit=2)), Page[ProductPublic])
    while page.items:
        seen += [p.name for p in page.items]
        page = result(
            await policy.ask(ListProducts(actor=CI, limit=2, before=page.items[-1].id)),
            Page[ProductPublic],
        )
    assert sorted(seen) == ["a", "b", "c", "d", "e"]


async def test_a_cursor_naming_no_record_is_404(policy: Policy) -> None:
    refused(await policy.ask(ListProducts(actor=CI, before=uuid4())), 404)


async def test_environments_are_listed_by_type(policy: Policy) -> None:
    for name in ("prod1", "staging", "live"):
        recorded(await policy.start("api", "1.0.0", name))
        policy.clock.advance(minutes=1)
    page = result(
        await policy.ask(ListEnvironments(actor=CI, type="production")), Page[EnvironmentPublic]
    )
    assert [e.name for e in page.items] == ["live", "prod1"]
    assert page.total == 2


async def test_deployments_are_listed_newest_first(policy: Policy) -> None:
    one = await policy.deploy("api", "1.0.0", "staging")
    policy.clock.advance(minutes=1)
    two = await policy.deploy("api", "1.0.0", "production")
    policy.clock.advance(minutes=1)
    three = recorded(await policy.start("web", "2.0.0", "production"))
    page = result(await policy.ask(ListDeployments(actor=CI)), Page[DeploymentPublic])
    assert [d.id for d in page.items] == [three.id, two.id, one.id]
    assert page.total == 3
    older = result(
        await policy.ask(ListDeployments(actor=CI, before=three.id, limit=1)),
        Page[DeploymentPublic],
    )
    assert [d.id for d in older.items] == [two.id]


async def test_deployments_are_filtered_by_product_environment_and_status(
    policy: Policy,
) -> None:
    staging = await policy.deploy("api", "1.0.0", "staging")
    policy.clock.advance(minutes=1)
    production = recorded(await policy.start("api", "1.0.0", "production"))
    policy.clock.advance(minutes=1)
    web = await policy.deploy("web", "2.0.0", "staging")

    async def ids(**filters: object) -> list[object]:
        page = result(
            await policy.ask(ListDeployments.model_validate({"actor": CI, **filters})),
            Page[DeploymentPublic],
        )
        assert page.total == len(page.items)
        return [d.id for d in page.items]

    assert await ids(product="api") == [production.id, staging.id]
    assert await ids(environment="staging") == [web.id, staging.id]
    assert await ids(status="started") == [production.id]
    assert await ids(product="api", environment="staging", status="completed") == [staging.id]
    assert await ids(product="ghost") == []
    assert await ids(environment="ghost") == []


async def test_deployments_are_filtered_by_a_former_product_name(policy: Policy) -> None:
    d = await policy.deploy("api", "1.0.0", "staging")
    await _rename_product(policy, "api", "core-api")
    page = result(
        await policy.ask(ListDeployments(actor=CI, product="api")), Page[DeploymentPublic]
    )
    assert [x.id for x in page.items] == [d.id]
    assert page.items[0].product_name == "core-api"


async def test_a_listed_deployment_carries_its_soak_time(policy: Policy) -> None:
    await policy.deploy("api", "1.0.0", "staging")
    policy.clock.advance(hours=6)
    page = result(await policy.ask(ListDeployments(actor=CI)), Page[DeploymentPublic])
    assert page.items[0].soak_time_hours == 6.0


async def test_versions_are_filtered_by_product_and_sha(policy: Policy) -> None:
    one = recorded_build(await policy.build("api", "1.0.0", "completed", scm_sha="aaa"))
    policy.clock.advance(minutes=1)
    two = recorded_build(await policy.build("api", "1.1.0", "started", scm_sha="bbb"))
    policy.clock.advance(minutes=1)
    other = recorded_build(await policy.build("web", "1.0.0", "completed", scm_sha="aaa"))

    async def versions(**filters: str) -> list[VersionPublic]:
        page = result(
            await policy.ask(ListVersions.model_validate({"actor": CI, **filters})),
            Page[VersionPublic],
        )
        assert page.total == len(page.items)
        return page.items

    assert [v.id for v in await versions()] == [other.version_id, two.version_id, one.version_id]
    assert [v.id for v in await versions(product="api")] == [two.version_id, one.version_id]
    assert [v.id for v in await versions(scm_sha="aaa")] == [other.version_id, one.version_id]
    assert [v.id for v in await versions(product="api", scm_sha="aaa")] == [one.version_id]
    assert await versions(product="ghost") == []
    registered = {v.version: v.registered for v in await versions(product="api")}
    assert registered == {"1.0.0": True, "1.1.0": False}


async def test_a_version_created_by_a_deployment_event_is_listed(policy: Policy) -> None:
    d = recorded(await policy.start("api", "3.0.0", "production", scm_sha="ccc"))
    page = result(await policy.ask(ListVersions(actor=CI, product="api")), Page[VersionPublic])
    [version] = page.items
    assert (version.id, version.scm_sha, version.registered) == (d.version_id, "ccc", False)


async def test_unknown_versions_and_deployments_are_404(policy: Policy) -> None:
    refused(await policy.ask(GetVersion(actor=CI, version_id=uuid4())), 404)
    refused(await policy.ask(GetDeployment(actor=CI, deployment_id=uuid4())), 404)
    refused(await policy.ask(GetEnvironment(actor=CI, ref="ghost")), 404)
