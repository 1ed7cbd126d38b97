"""`make demo` seeds a running installation with enough to see every part of the dashboard."""

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.support.stack import NotifierSetup, Stack, memory_stack

ROOT = Path(__file__).resolve().parents[2]


def demo_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("versioner_demo", ROOT / "scripts" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_demo_fills_every_part_and_can_run_again(
    database_url: str, tmp_path: Path
) -> None:
    notifier = NotifierSetup(database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with memory_stack(database_url, notifier=notifier) as stack:
        await _seeded_twice(stack)


async def _seeded_twice(stack: Stack) -> None:
    demo = demo_script()
    seeded = await demo.seed(stack.http, stack.admin)
    assert len(seeded.versions) == 4
    assert seeded.request is not None
    assert len(seeded.users) == 5
    assert all(n > 0 for n in seeded.history.values()), seeded.history
    assert seeded.incidents

    dora = await stack.http.get("/insights/dora", headers=stack.admin)
    assert dora.status_code == 200, dora.text
    report = dora.json()
    assert report["deployment_frequency"]["deployments"] >= 20
    assert report["lead_time"]["start_from"]["commit"] > 0
    assert report["change_failure_rate"]["failures"] > 0
    assert report["recovery_time"]["restored"] > 0
    incidents = await stack.http.get("/incidents/", headers=stack.admin)
    assert {i["incident_id"] for i in incidents.json()} >= set(seeded.incidents)

    state = (await stack.http.get("/state/", headers=stack.admin)).json()
    assert {p["product"] for p in state["products"]} == set(demo.PRODUCTS)
    rules = (await stack.http.get("/deployment-rules/", headers=stack.admin)).json()
    assert len(rules) == 3
    requests = await stack.http.get(
        "/deployment-requests/", params={"status": "in_progress"}, headers=stack.admin
    )
    assert [r["name"] for r in requests.json()] == [seeded.request]
    blocked = await stack.http.get(
        "/deployment-rules/violations", params={"outcome": "blocked"}, headers=stack.admin
    )
    assert {v["code"] for v in blocked.json()} == {"QUALITY_APPROVAL_REQUIRED"}

    again = await demo.seed(stack.http, stack.admin)
    assert set(again.versions).isdisjoint(seeded.versions)
    assert again.users == {}
    # Run again at once, it finds its history there and adds none.
    assert sum(again.history.values()) == 0
