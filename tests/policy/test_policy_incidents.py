"""Incidents: recorded once per `incident_id`, attached to the deployment running where they
opened, updated when they resolve, refused when they make no sense."""

from tests.support.insights import day, incident
from tests.support.policy import ADMIN, Policy, audit_entries, count, recorded, refused, result
from versioner.common.insights import IncidentPublic
from versioner.common.messages.management import ListIncidents
from versioner.common.resources import Page
from versioner.policy.store.tables import Incident


async def _history(policy: Policy) -> tuple[str, str]:
    """1.0 then 2.0 completed in production, 3.0 failed after them; their ids."""
    policy.clock.at = day(0)
    first = await policy.deploy("shop", "1.0", "production")
    policy.clock.at = day(1)
    second = await policy.deploy("shop", "2.0", "production")
    policy.clock.at = day(2)
    recorded(await policy.start("shop", "3.0", "production"))
    recorded(await policy.report("shop", "3.0", "production", "failed"))
    return str(first.id), str(second.id)


async def test_an_incident_attaches_to_the_deployment_running_when_it_opened(
    policy: Policy,
) -> None:
    first, second = await _history(policy)
    # Opened between 1.0 and 2.0: 1.0 was running, whenever it is reported.
    early = await incident(policy, "INC-1", "opened", at=day(5), opened_at=day(0, 12), url=None)
    assert isinstance(early, IncidentPublic)
    assert (str(early.deployment_id), early.version) == (first, "1.0")
    assert early.opened_at == day(0, 12)
    # After 3.0 failed, 2.0 is still what runs.
    late = await incident(policy, "INC-2", "opened", at=day(3), title="Errors")
    assert isinstance(late, IncidentPublic)
    assert (str(late.deployment_id), late.version, late.opened_at) == (second, "2.0", day(3))
    assert late.status == "opened"
    assert late.resolved_at is None


async def test_the_same_incident_again_changes_nothing_and_resolving_updates_it(
    policy: Policy,
) -> None:
    await _history(policy)
    opened = await incident(policy, "INC-1", "opened", at=day(3), title="Errors")
    again = await incident(policy, "INC-1", "opened", at=day(3, 1), title="Errors")
    assert again == opened
    assert len(await audit_entries(policy.ctx, "incident.opened")) == 1
    resolved = await incident(policy, "INC-1", "resolved", at=day(3, 2))
    assert isinstance(resolved, IncidentPublic)
    assert (resolved.status, resolved.resolved_at, resolved.title) == (
        "resolved",
        day(3, 2),
        "Errors",
    )
    assert await count(policy.ctx, Incident) == 1
    reopened = await incident(policy, "INC-1", "opened", at=day(4))
    assert isinstance(reopened, IncidentPublic)
    assert (reopened.status, reopened.resolved_at) == ("opened", None)


async def test_an_incident_first_seen_resolved_opened_when_it_resolved(policy: Policy) -> None:
    await _history(policy)
    seen = await incident(policy, "INC-9", "resolved", at=day(4), resolved_at=day(3))
    assert isinstance(seen, IncidentPublic)
    assert (seen.opened_at, seen.resolved_at) == (day(3), day(3))


async def test_incidents_that_make_no_sense_are_refused_and_change_nothing(
    policy: Policy,
) -> None:
    await _history(policy)
    unknown = await incident(policy, "INC-1", "opened", product="nope", at=day(3))
    assert refused(unknown, 404).body.detail == "No product named 'nope'"
    unknown = await incident(policy, "INC-1", "opened", environment="mars", at=day(3))
    refused(unknown, 404)
    await incident(policy, "INC-1", "opened", at=day(3), opened_at=day(2))
    backwards = await incident(policy, "INC-1", "resolved", at=day(3), resolved_at=day(1))
    refused(backwards, 422)
    policy.clock.at = day(3)
    await policy.deploy("other", "1.0", "production")
    moved = await incident(policy, "INC-1", "opened", product="other", at=day(3))
    refused(moved, 409)
    assert await count(policy.ctx, Incident) == 1


async def test_incidents_are_listed_newest_opened_first_and_filtered(policy: Policy) -> None:
    first, _ = await _history(policy)
    for n in range(3):
        await incident(policy, f"INC-{n}", "opened", at=day(3, n))
    await incident(policy, "INC-0", "resolved", at=day(4))
    await incident(policy, "INC-old", "opened", at=day(5), opened_at=day(0, 1))

    async def ids(**query: object) -> list[str]:
        request = ListIncidents.model_validate({"actor": ADMIN, **query})
        page = result(await policy.ask(request), Page[IncidentPublic])
        return [i.incident_id for i in page.items]

    assert await ids() == ["INC-2", "INC-1", "INC-0", "INC-old"]
    assert await ids(status="resolved") == ["INC-0"]
    assert await ids(product="shop", environment="production", status="opened") == [
        "INC-2",
        "INC-1",
        "INC-old",
    ]
    assert await ids(deployment_id=first) == ["INC-old"]
    assert await ids(product="unknown") == []
    page = result(await policy.ask(ListIncidents(actor=ADMIN, limit=2)), Page[IncidentPublic])
    assert page.total == 4
    older = await policy.ask(ListIncidents(actor=ADMIN, limit=2, before=page.items[-1].id))
    assert [i.incident_id for i in result(older, Page[IncidentPublic]).items] == [
        "INC-0",
        "INC-old",
    ]
