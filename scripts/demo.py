"""`make demo`: seed a running Versioner with realistic data, so the dashboard can be seen full.

Run `make run` in one terminal, then `make demo` in another. It talks to the gateway over HTTP
only (`VERSIONER_API_URL`, default `http://127.0.0.1:8000`) as the first admin (the token in
`var/bootstrap-token`, or `VERSIONER_API_KEY`): four products, four environments, about four
months of history for the Insights page (versions built and deployed along the environments,
some failing, a few rolled back, a few production incidents), then the current state: builds
and deployments with some drift, a blocked attempt, three rules, a Deployment Request waiting
for its approvals, a deployment button, and users for each role that approves. Running it
again adds a new round of versions, and history for the days since the last run; it never
deletes anything.
"""

import asyncio
import hashlib
import os
import random
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
# History goes back this far; a second run fills in only the time since the first.
HISTORY = timedelta(days=120)
# Per environment of the path: how likely a version goes on there, and how likely an attempt
# there fails (the next attempt then usually succeeds).
PATH = {
    "dev": (1.0, 0.08),
    "test": (0.9, 0.06),
    "staging": (0.8, 0.05),
    "production": (0.75, 0.04),
}
# Typical hours from the previous step to a deployment there (production waits for a window).
WAIT_H = {"dev": 0.2, "test": 1.5, "staging": 4.0, "production": 18.0}
# After a version reaches production: the chance it is rolled back, or an incident opens.
ROLLBACK = 0.04
INCIDENT = 0.1


@dataclass
class Seeded:
    """What the demo put in, to print (and for tests to check)."""

    versions: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    request: str | None = None
    users: dict[str, str] = field(default_factory=dict)
    history: dict[str, int] = field(default_factory=dict)
    incidents: list[str] = field(default_factory=list)


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


def _at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class _Product:
    """One product's history as it is sent: in order, each pair one deployment at a time."""

    http: httpx.AsyncClient
    ci: dict[str, str]
    name: str
    index: int
    rng: random.Random
    now: datetime
    run: str
    last_end: dict[str, datetime] = field(default_factory=dict)
    production: list[str] = field(default_factory=list)
    deployments: int = 0
    incidents: list[str] = field(default_factory=list)

    async def send(self, since: datetime) -> None:
        """Versions every few days from `since` until yesterday, each along the path."""
        rng = self.rng
        known = await self.http.get(
            "/versions/", params={"product": self.name, "limit": 1}, headers=self.ci
        )
        base = int(known.headers.get("x-total-count", "0")) if known.status_code == 200 else 0
        began = since + timedelta(hours=rng.uniform(2, 30))
        n = 0
        while began < self.now - timedelta(days=1):
            await self._version(f"1.{base + n}.{self.index}", began)
            n += 1
            began += timedelta(hours=rng.uniform(40, 110))

    async def _version(self, version: str, began: datetime) -> None:
        rng = self.rng
        commit = began - timedelta(hours=rng.lognormvariate(1.5, 1.0))
        _ok(
            await self.http.post(
                "/build-events/",
                json={
                    "product_name": self.name,
                    "version": version,
                    "status": "completed",
                    "scm_sha": hashlib.sha1(f"{self.name} {version}".encode()).hexdigest(),
                    "scm_repository": f"acme/{self.name}",
                    "scm_branch": "main",
                    "built_by": "ci-bot",
                    "source_system": "github",
                    "started_at": _at(began),
                    "completed_at": _at(began + timedelta(minutes=rng.uniform(4, 20))),
                    "extra_metadata": {"vi_commit_timestamp": _at(commit)},
                },
                headers=self.ci,
            )
        )
        at = began + timedelta(minutes=30)
        for environment, (reach, fail) in PATH.items():
            if rng.random() >= reach:
                return
            wait = timedelta(hours=WAIT_H[environment] * rng.lognormvariate(0.0, 0.8))
            at = max(at + wait, self._after(environment))
            if rng.random() < fail:
                if not await self._deploy(version, environment, "failed", at):
                    return
                at += timedelta(minutes=rng.uniform(20, 90))
                # One failure in four is not retried: the version stops there.
                if rng.random() < 0.25:
                    return
            if not await self._deploy(version, environment, "completed", at):
                return
        self.production.append(version)
        await self._aftermath(self.last_end["production"])

    async def _aftermath(self, ended: datetime) -> None:
        """Sometimes the version is rolled back, or an incident opens after it shipped."""
        rng = self.rng
        draw = rng.random()
        if draw < ROLLBACK and len(self.production) >= 2:
            at = ended + timedelta(minutes=rng.uniform(20, 120))
            await self._deploy(self.production[-2], "production", "completed", at)
        elif draw < ROLLBACK + INCIDENT:
            opened = ended + timedelta(minutes=rng.uniform(15, 360))
            resolved = opened + timedelta(hours=rng.lognormvariate(0.5, 0.9))
            if resolved < self.now:
                await self._incident(opened, resolved)

    async def _incident(self, opened: datetime, resolved: datetime) -> None:
        """Opened after a production deployment, resolved hours later (the fix ships after)."""
        incident_id = f"DEMO-{self.run}-{self.name}-{len(self.incidents) + 1}"
        body = {
            "product_name": self.name,
            "environment_name": "production",
            "incident_id": incident_id,
            "title": f"{self.name}: elevated error rate",
            "url": f"https://pager.example.com/incidents/{incident_id}",
            "opened_at": _at(opened),
        }
        for update in ({"status": "opened"}, {"status": "resolved", "resolved_at": _at(resolved)}):
            _ok(await self.http.post("/incident-events/", json={**body, **update}, headers=self.ci))
        self.incidents.append(incident_id)
        self.last_end["production"] = resolved

    def _after(self, environment: str) -> datetime:
        last = self.last_end.get(environment)
        return last + timedelta(minutes=5) if last else datetime.min.replace(tzinfo=UTC)

    async def _deploy(self, version: str, environment: str, status: str, at: datetime) -> bool:
        """A `started`, then its outcome minutes after `at`; False when the gate said no."""
        if at >= self.now - timedelta(hours=1):
            return False
        body = {
            "product_name": self.name,
            "version": version,
            "environment_name": environment,
            "deployed_by": "ci-bot",
            "source_system": "github",
        }
        start = await self.http.post(
            "/deployment-events/", json={**body, "status": "started"}, headers=self.ci
        )
        _ok(start)
        # Rules created by an earlier run may hold it (428), or a pair be busy (409).
        if start.status_code in (409, 428):
            return False
        ended = at + timedelta(minutes=self.rng.uniform(3, 15))
        _ok(
            await self.http.post(
                "/deployment-events/",
                json={**body, "status": status, "completed_at": _at(ended)},
                headers=self.ci,
            )
        )
        self.last_end[environment] = ended
        self.deployments += 1
        return True


async def _resume_from(http: httpx.AsyncClient, ci: dict[str, str], product: str) -> datetime:
    """Where this product's history starts: four months ago, or after its latest deployment."""
    start = datetime.now(UTC) - HISTORY
    latest = await http.get("/deployments/", params={"product": product, "limit": 1}, headers=ci)
    for deployment in latest.json() if latest.status_code == 200 else []:
        times = (deployment.get(k) for k in ("deployed_at", "finished_at", "completed_at"))
        start = max([start, *(datetime.fromisoformat(t) for t in times if t)])
    return start


async def _history(http: httpx.AsyncClient, ci: dict[str, str], seeded: Seeded) -> None:
    """Months of versions for every product at once (each product's in order: the server
    orders versions by when it first saw them)."""
    now = datetime.now(UTC)
    run = secrets.token_hex(3)
    products = [
        # Seeded by name: the same shape of history every time, on today's dates.
        _Product(http, ci, name, index, random.Random(name), now, run)
        for index, name in enumerate(PRODUCTS)
    ]
    starts = await asyncio.gather(*(_resume_from(http, ci, p.name) for p in products))
    await asyncio.gather(*(p.send(since) for p, since in zip(products, starts, strict=True)))
    for p in products:
        seeded.history[p.name] = p.deployments
        seeded.incidents.extend(p.incidents)


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
    # History first: the rules below would hold some of its starts.
    await _history(http, ci, seeded)
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
    history = ", ".join(f"{product} {n}" for product, n in seeded.history.items())
    out.write(f"History: deployments {history}; incidents {len(seeded.incidents)}\n")
    out.write(f"Rules: {', '.join(seeded.rules)}\n")
    if seeded.request:
        out.write(f"Deployment Request waiting for approval: {seeded.request}\n")
    for name, token in seeded.users.items():
        out.write(f"  sign in as {name}: {token}\n")
    out.write(f"Open {url}/ui/\n")


if __name__ == "__main__":
    asyncio.run(main())
