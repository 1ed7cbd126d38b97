"""Which deployments a rule applies to: product and environment names, old names, unseen ones."""

from tests.support.policy import ADMIN, Policy, detail_of, recorded, refused, result
from versioner.common.messages.management import (
    CreateRule,
    GetEnvironment,
    GetProduct,
    UpdateEnvironment,
    UpdateProduct,
)
from versioner.common.resources import EnvironmentPublic, ProductPublic
from versioner.common.rules import RulePublic

# In force at the suite's T0 (2026-03-02 09:00 UTC) and for days after.
FREEZE = {"windows": [{"start": "2026-03-01T00:00", "end": "2026-03-05T00:00"}]}


async def _freeze(
    policy: Policy, *, products: list[str] | None = None, environments: list[str] | None = None
) -> RulePublic:
    request = CreateRule(
        actor=ADMIN,
        name="freeze",
        rule_type="schedule",
        products=products or [],
        environments=environments or [],
        config=FREEZE,
    )
    return result(await policy.ask(request), RulePublic)


async def _blocked(policy: Policy, product: str, environment: str) -> None:
    reply = await policy.start(product, "1.0.0", environment)
    assert detail_of(refused(reply, 428)).code == "NO_DEPLOY_WINDOW"


async def _allowed(policy: Policy, product: str, environment: str) -> None:
    recorded(await policy.start(product, "1.0.0", environment))


async def _rename_product(policy: Policy, old: str, new: str) -> None:
    product = result(await policy.ask(GetProduct(actor=ADMIN, ref=old)), ProductPublic)
    renamed = UpdateProduct(actor=ADMIN, product_id=product.id, name=new)
    result(await policy.ask(renamed), ProductPublic)


async def _rename_environment(policy: Policy, old: str, new: str) -> None:
    environment = result(await policy.ask(GetEnvironment(actor=ADMIN, ref=old)), EnvironmentPublic)
    renamed = UpdateEnvironment(actor=ADMIN, environment_id=environment.id, name=new)
    result(await policy.ask(renamed), EnvironmentPublic)


async def test_an_empty_scope_applies_to_every_product_and_environment(policy: Policy) -> None:
    await _freeze(policy)
    await _blocked(policy, "api", "production")
    await _blocked(policy, "web", "dev")


async def test_a_product_scope_lets_other_products_through(policy: Policy) -> None:
    rule = await _freeze(policy, products=["api"])
    assert rule.products == ["api"]
    await _allowed(policy, "web", "production")
    await _blocked(policy, "api", "production")


async def test_an_environment_scope_lets_other_environments_through(policy: Policy) -> None:
    await _freeze(policy, environments=["production"])
    await _allowed(policy, "api", "staging")
    await _blocked(policy, "api", "production")


async def test_a_rule_with_both_scopes_needs_both_to_match(policy: Policy) -> None:
    await _freeze(policy, products=["api"], environments=["production"])
    await _allowed(policy, "api", "staging")
    await _allowed(policy, "web", "production")
    await _blocked(policy, "api", "production")


async def test_a_rule_may_name_a_product_not_seen_yet_and_applies_once_it_appears(
    policy: Policy,
) -> None:
    rule = await _freeze(policy, products=["billing"], environments=["payments-prod"])
    assert (rule.products, rule.environments) == (["billing"], ["payments-prod"])
    await _allowed(policy, "api", "production")
    await _blocked(policy, "billing", "payments-prod")


async def test_a_rule_naming_the_old_name_of_a_product_still_applies(policy: Policy) -> None:
    await _allowed(policy, "api", "staging")
    await _rename_product(policy, "api", "core-api")
    await _freeze(policy, products=["api"])
    await _blocked(policy, "core-api", "production")


async def test_a_deployment_under_the_old_name_meets_rules_naming_the_new_one(
    policy: Policy,
) -> None:
    await _allowed(policy, "api", "staging")
    await _rename_product(policy, "api", "core-api")
    await _freeze(policy, products=["core-api"])
    await _blocked(policy, "api", "production")


async def test_a_rule_naming_the_old_name_of_an_environment_still_applies(
    policy: Policy,
) -> None:
    await _allowed(policy, "api", "prod")
    await _rename_environment(policy, "prod", "production")
    await _freeze(policy, environments=["prod"])
    await _blocked(policy, "web", "production")


async def test_a_rename_is_seen_by_the_very_next_verdict(policy: Policy) -> None:
    # The rule names a product that does not exist yet; the verdict below caches api's names.
    await _freeze(policy, products=["core-api"])
    await _allowed(policy, "api", "staging")
    await _rename_product(policy, "api", "core-api")
    await _blocked(policy, "api", "production")
