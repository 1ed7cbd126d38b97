"""`make demo`: seed a running Versioner with realistic data, so the dashboard can be seen full.

Run `make run` in one terminal, then `make demo` in another. It talks to the gateway over HTTP
only (`VERSIONER_API_URL`, default `http://127.0.0.1:8000`) as the first admin (the token in
`var/bootstrap-token`, or `VERSIONER_API_KEY`): four products, four environments, builds and
deployments with some drift, a blocked attempt, three rules, a Deployment Request waiting for
its approvals, a deployment button, and users for each role that approves. Running it again
adds a new round of versions; it never deletes anything.
"""

import asyncio
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PRODUCTS = ("checkout", "catalog", "payments", "search")
ENVIRONMENTS = ("dev", "test", "staging", "production")
# How far each product's newest version has got: drift between environments on purpose.
REACH = {"checkout": 4, "catalog": 3, "payments": 4, "search": 2}
PEOPLE = (
    ("Rita Release", "release_manager", "U0DEMORM"),
    ("Quinn QA", "qa", "U0DEMOQA"),
    ("Sam Security", "security", "U0DEMOSEC"),
    ("Devi Developer", "developer", "U0DEMODEV"),
    ("Sasha SRE", "sre", "U0DEMOSRE"),
)


@dataclass
class Seeded:
    """What the demo put in, to print (and for tests to check)."""

    versions: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    request: str | None = None
    users: dict[str, str] = field(default_factory=dict)


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400 and response.status_code not in (409, 428):
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json() if response.content else None


async def _version_round(http: httpx.AsyncClient, ci: dict[str, str]) -> list[str]:
    """A new version of every product, built and deployed along its path (payments stops
    before production: a QA sign-off rule holds it there)."""
    shipped = []
    for index, product in enumerate(PRODUCTS):
        known = await http.get("/versions/", params={"product": product, "limit": 1}, headers=ci)
        round_ = int(known.headers.get("x-total-count", "0")) if known.status_code == 200 else 0
        version = f"2.{round_}.{index}"
        _ok(
            await http.post(
                "/build-events/",
                json={
                    "product_name": product,
                    "version": version,
                    "status": "completed",
                    "scm_sha": hashlib.sha1(f"{product} {version}".encode()).hexdigest(),
                    "scm_repository": f"acme/{product}",
                    "scm_branch": "main",
                    "build_number": str(100 + round_),
                    "built_by": "ci-bot",
                    "source_system": "github",
                },
                headers=ci,
            )
        )
        reach = REACH[product] - (1 if product == "payments" else 0)
        for environment in ENVIRONMENTS[:reach]:
            for status in ("started", "completed"):
                _ok(
                    await http.post(
                        "/deployment-events/",
                        json={
                            "product_name": product,
                            "version": version,
                            "environment_name": environment,
                            "status": status,
                            "deployed_by": "ci-bot",
                            "source_system": "github",
                        },
                        headers=ci,
                    )
                )
        shipped.append(f"{product} {version}")
    return shipped


async def seed(http: httpx.AsyncClient, admin: dict[str, str]) -> Seeded:
    """Seed through the API as `admin`."""
    seeded = Seeded()
    users = {u["name"]: u for u in (await http.get("/users/", headers=admin)).json()}
    for name, role, slack in PEOPLE:
        if name not in users:
            created = _ok(
                await http.post(
                    "/users/",
                    json={"name": name, "role": role, "slack_user_id": slack},
                    headers=admin,
                )
            )
            redeemed = _ok(
                await http.post("/users/redeem", json={"invite_token": created["invite_token"]})
            )
            seeded.users[name] = redeemed["token"]
    key = _ok(await http.post("/api-keys/", json={"name": "demo-ci"}, headers=admin))
    ci = {"Authorization": f"Bearer {key['key']}"}
    seeded.versions = await _version_round(http, ci)

    rules = {r["name"] for r in (await http.get("/deployment-rules/", headers=admin)).json()}
    wanted = [
        {
            "name": "Weekend production freeze",
            "rule_type": "schedule",
            "mode": "report_only",
            "environments": ["production"],
            "config": {
                "kind": "deny",
                "timezone": "Europe/Berlin",
                "rrule": "FREQ=WEEKLY;BYDAY=SA",
                "duration_minutes": 2880,
            },
        },
        {
            "name": "Production after staging",
            "rule_type": "flow",
            "environments": ["production"],
            "config": {"prerequisites": ["staging"], "target": "production"},
        },
        {
            "name": "QA signs off payments",
            "rule_type": "version_approval",
            "products": ["payments"],
            "environments": ["production"],
            "config": {"approval_types": ["qa"]},
        },
    ]
    for rule in wanted:
        if rule["name"] not in rules:
            _ok(await http.post("/deployment-rules/", json=rule, headers=admin))
        seeded.rules.append(str(rule["name"]))

    payments = next(v for v in seeded.versions if v.startswith("payments "))
    version = payments.split()[1]
    # A blocked attempt: production before QA's sign-off.
    await http.post(
        "/deployment-events/",
        json={
            "product_name": "payments",
            "version": version,
            "environment_name": "production",
            "status": "started",
        },
        headers=ci,
    )
    manager = {"Authorization": f"Bearer {seeded.users.get('Rita Release', '')}"}
    if "Rita Release" in seeded.users:
        request = _ok(
            await http.post(
                "/deployment-requests/",
                json={
                    "name": f"Payments {version} to production",
                    "description": "Quarterly payments release",
                    "items": [{"product": "payments", "version": version}],
                    "environments": ["production"],
                    "approval_slots": [{"approval_type": "qa"}, {"approval_type": "security"}],
                    "pre_steps": ["Announce in #releases", "Check the error budget"],
                    "post_steps": ["Watch the dashboards for 30 minutes"],
                },
                headers=manager,
            )
        )
        _ok(await http.post(f"/deployment-requests/{request['id']}/submit", headers=manager))
        seeded.request = request["name"]
    buttons = (await http.get("/deployment-buttons/?product=checkout", headers=admin)).json()
    if not buttons:
        _ok(
            await http.post(
                "/deployment-buttons/",
                json={
                    "product": "checkout",
                    "environments": ["staging", "production"],
                    "label": "Deploy with GitHub Actions",
                    "kind": "link",
                    "method": "GET",
                    "url_template": "https://github.com/acme/checkout/actions/workflows/deploy.yml",
                },
                headers=admin,
            )
        )
    return seeded


def _admin_token() -> str:
    if token := os.environ.get("VERSIONER_API_KEY"):
        return token
    path = Path("var/bootstrap-token")
    if not path.exists():
        raise SystemExit(
            "start Versioner first (make run), or set VERSIONER_API_KEY to an admin token"
        )
    return path.read_text().strip()


async def main() -> None:
    """Seed the running installation."""
    url = os.environ.get("VERSIONER_API_URL", "http://127.0.0.1:8000")
    admin = {"Authorization": f"Bearer {_admin_token()}"}
    async with httpx.AsyncClient(base_url=url, timeout=30, trust_env=False) as http:
        try:
            seeded = await seed(http, admin)
        except httpx.ConnectError:
            raise SystemExit(f"nothing answers at {url}: run `make run` first") from None
    out = sys.stdout
    out.write(f"Seeded {url}: {', '.join(seeded.versions)}\n")
    out.write(f"Rules: {', '.join(seeded.rules)}\n")
    if seeded.request:
        out.write(f"Deployment Request waiting for approval: {seeded.request}\n")
    for name, token in seeded.users.items():
        out.write(f"  sign in as {name}: {token}\n")
    out.write(f"Open {url}/ui/\n")


if __name__ == "__main__":
    asyncio.run(main())
