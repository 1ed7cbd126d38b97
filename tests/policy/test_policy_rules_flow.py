"""Flow rules: prerequisites completed first (in order when strict), and soaked long enough."""

from datetime import timedelta

from tests.support.policy import ADMIN, Policy, detail_of, recorded, refused, result, rows
from versioner.common.errors import ErrorDetail
from versioner.common.messages.management import CreateRule, UpdateEnvironment
from versioner.common.resources import EnvironmentPublic
from versioner.common.rules import RulePublic
from versioner.policy.store.tables import Environment


async def _flow(
    policy: Policy,
    prerequisites: list[str],
    *,
    target: str = "production",
    strict: bool = True,
    soak: float = 0,
    name: str = "path to production",
    environments: list[str] | None = None,
) -> RulePublic:
    request = CreateRule(
        actor=ADMIN,
        name=name,
        rule_type="flow",
        environments=environments or [],
        config={
            "prerequisites": prerequisites,
            "target": target,
            "strict_order": strict,
            "min_soak_minutes": soak,
        },
    )
    return result(await policy.ask(request), RulePublic)


async def _blocked(policy: Policy, environment: str = "production") -> ErrorDetail:
    return detail_of(refused(await policy.start("api", "1.4.0", environment), 428))


async def _allowed(policy: Policy, environment: str = "production") -> None:
    recorded(await policy.start("api", "1.4.0", environment))


async def _deployed(policy: Policy, *environments: str, minutes_apart: float = 0) -> None:
    for environment in environments:
        await policy.deploy("api", "1.4.0", environment)
        policy.clock.advance(minutes=minutes_apart)


# --- prerequisites -------------------------------------------------------------------------


async def test_a_missing_prerequisite_is_a_flow_violation_naming_it(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"], name="staging before production")
    await _deployed(policy, "test")
    detail = await _blocked(policy)
    assert detail.code == "FLOW_VIOLATION"
    assert detail.message == "1.4.0 must be deployed to staging before production."
    assert detail.retry_after is None
    assert detail.details["rule_name"] == "staging before production"
    assert detail.details["missing"] == ["staging"]
    assert detail.details["prerequisites"] == ["test", "staging"]
    [violation] = detail.details["violations"]
    assert violation["rule_type"] == "flow"


async def test_every_prerequisite_completed_lets_through(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"])
    await _deployed(policy, "test", "staging")
    await _allowed(policy)


async def test_a_started_or_failed_prerequisite_is_not_done(policy: Policy) -> None:
    await _flow(policy, ["staging"])
    recorded(await policy.start("api", "1.4.0", "staging"))
    recorded(await policy.report("api", "1.4.0", "staging", "failed"))
    assert (await _blocked(policy)).details["missing"] == ["staging"]


async def test_another_version_in_the_prerequisite_does_not_count(policy: Policy) -> None:
    await _flow(policy, ["staging"])
    await policy.deploy("api", "1.3.0", "staging")
    assert (await _blocked(policy)).details["missing"] == ["staging"]


async def test_a_prerequisite_never_seen_is_simply_not_done(policy: Policy) -> None:
    await _flow(policy, ["canary"])
    detail = await _blocked(policy)
    assert detail.details["missing"] == ["canary"]
    assert detail.message == "1.4.0 must be deployed to canary before production."


async def test_a_flow_rule_does_not_apply_to_another_target(policy: Policy) -> None:
    await _flow(policy, ["staging"])
    await _allowed(policy, environment="test")


async def test_a_prerequisite_reached_under_an_old_name_counts(policy: Policy) -> None:
    await _flow(policy, ["staging"])
    await _deployed(policy, "stage")
    [stage] = [e for e in await rows(policy.ctx, Environment) if e.name == "stage"]
    renamed = UpdateEnvironment(actor=ADMIN, environment_id=stage.id, name="staging")
    result(await policy.ask(renamed), EnvironmentPublic)
    await _allowed(policy)


# --- order ---------------------------------------------------------------------------------


async def test_strict_order_violated_is_a_flow_violation(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"], name="in order")
    await _deployed(policy, "staging", "test", minutes_apart=1)
    detail = await _blocked(policy)
    assert detail.code == "FLOW_VIOLATION"
    assert detail.message == (
        "1.4.0 reached its prerequisites out of order; 'in order' requires "
        "test → staging → production. Deploy it again in that order."
    )
    assert detail.details["order"] == "test → staging → production"
    assert detail.details["missing"] == []


async def test_deploying_again_in_order_cures_a_strict_order_violation(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"])
    await _deployed(policy, "staging", "test", minutes_apart=1)
    refused(await policy.start("api", "1.4.0", "production"), 428)
    await _deployed(policy, "staging")
    await _allowed(policy)


async def test_the_same_history_passes_when_order_is_not_strict(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"], strict=False)
    await _deployed(policy, "staging", "test", minutes_apart=1)
    await _allowed(policy)


# --- soak ----------------------------------------------------------------------------------


async def test_a_fractional_soak_retries_exactly_after_it(policy: Policy) -> None:
    await _flow(policy, ["staging"], soak=0.5, name="soak")
    await _deployed(policy, "staging")
    completed_at = policy.clock.now()
    policy.clock.advance(seconds=10)
    detail = await _blocked(policy)
    assert detail.code == "INSUFFICIENT_SOAK_TIME"
    assert detail.retry_after == completed_at + timedelta(seconds=30)
    assert detail.message == (
        "1.4.0 has soaked 0.2 of 0.5 minutes in staging before production. "
        "Retry after 2026-03-02 09:00:30 UTC."
    )
    assert detail.details["soak_environment"] == "staging"
    assert detail.details["min_soak_minutes"] == 0.5
    assert detail.details["soaked_minutes"] == 0.17


async def test_a_soak_is_over_at_exactly_its_end(policy: Policy) -> None:
    await _flow(policy, ["staging"], soak=0.5)
    await _deployed(policy, "staging")
    policy.clock.advance(seconds=30)
    await _allowed(policy)


async def test_strict_soak_counts_from_the_last_prerequisite(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"], soak=60)
    # test at 0, staging at 10 min, test again at 50 min (its most recent completion).
    await _deployed(policy, "test", minutes_apart=10)
    await _deployed(policy, "staging", minutes_apart=40)
    await _deployed(policy, "test", minutes_apart=25)
    # 75 min: staging soaked 65 min; test only 25.
    await _allowed(policy)


async def test_strict_soak_retries_after_the_last_prerequisites_latest_completion(
    policy: Policy,
) -> None:
    await _flow(policy, ["test", "staging"], soak=60)
    start = policy.clock.now()
    await _deployed(policy, "test", minutes_apart=10)
    await _deployed(policy, "staging", minutes_apart=20)
    await _deployed(policy, "staging", minutes_apart=5)
    detail = await _blocked(policy)
    assert detail.details["soak_environment"] == "staging"
    assert detail.retry_after == start + timedelta(minutes=90)


async def test_loose_soak_counts_from_the_most_recent_completion(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"], strict=False, soak=60)
    start = policy.clock.now()
    await _deployed(policy, "test", minutes_apart=10)
    await _deployed(policy, "staging", minutes_apart=40)
    await _deployed(policy, "test", minutes_apart=25)
    detail = await _blocked(policy)
    assert detail.code == "INSUFFICIENT_SOAK_TIME"
    assert detail.details["soak_environment"] == "test"
    assert detail.retry_after == start + timedelta(minutes=110)


async def test_a_missing_prerequisite_is_reported_before_any_soak(policy: Policy) -> None:
    await _flow(policy, ["test", "staging"], soak=60)
    await _deployed(policy, "test")
    detail = await _blocked(policy)
    assert [v["code"] for v in detail.details["violations"]] == ["FLOW_VIOLATION"]


# --- scope ---------------------------------------------------------------------------------


async def test_a_flow_rule_still_guards_its_target_after_a_rename(policy: Policy) -> None:
    await policy.deploy("web", "1.0.0", "production")
    await _flow(policy, ["staging"])
    [production] = [e for e in await rows(policy.ctx, Environment) if e.name == "production"]
    renamed = UpdateEnvironment(actor=ADMIN, environment_id=production.id, name="prod-eu")
    result(await policy.ask(renamed), EnvironmentPublic)
    assert (await _blocked(policy, environment="prod-eu")).code == "FLOW_VIOLATION"


async def test_a_flow_rule_scoped_to_its_target_applies_there(policy: Policy) -> None:
    await _flow(policy, ["staging"], environments=["production"])
    assert (await _blocked(policy)).code == "FLOW_VIOLATION"


async def test_a_flow_rule_scoped_to_another_product_does_not_apply(policy: Policy) -> None:
    request = CreateRule(
        actor=ADMIN,
        name="web path",
        rule_type="flow",
        products=["web"],
        config={"prerequisites": ["staging"], "target": "production"},
    )
    result(await policy.ask(request), RulePublic)
    await _allowed(policy)


async def test_a_fractional_soak_message_names_the_retry_time_to_the_second(
    policy: Policy,
) -> None:
    await _flow(policy, ["staging"], soak=0.5)
    await _deployed(policy, "staging")
    policy.clock.advance(seconds=10)
    detail = await _blocked(policy)
    assert "09:00:30" in detail.message
