"""The Insights page in a real browser: opened from the navigation, its charts and level
badges drawn, and its bucket filter remembered when the user comes back."""

from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, expect

from tests.support.browser import Live, sign_in
from tests.support.flows import build_body, deploy_body


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_insights_draws_its_charts_and_remembers_the_bucket(
    browser: Browser, live: Live
) -> None:
    ci = live.stack.auth(await live.stack.api_key())
    sent = await live.stack.http.post(
        "/build-events/",
        json=build_body(version="2.0.0", extra_metadata={"vi_commit_timestamp": _ago(3.5)}),
        headers=ci,
    )
    assert sent.status_code in (200, 201), sent.text
    for status, extra in (("started", {}), ("completed", {"completed_at": _ago(3)})):
        sent = await live.stack.http.post(
            "/deployment-events/",
            json=deploy_body(version="2.0.0", status=status, **extra),
            headers=ci,
        )
        assert sent.status_code in (200, 201), sent.text
    token = await live.stack.user("viewer")
    page = await sign_in(browser, live, token)

    await page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    await page.wait_for_url(f"{live.url}/ui/insights")
    await expect(page.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name="Deployments per week")
    await expect(chart).to_be_visible()
    await expect(page.locator("svg.chart")).to_have_count(8)
    await expect(chart.locator("rect")).to_have_count(1)
    # Half a day from commit to production: an elite lead time; the other keys have levels too.
    await expect(page.locator('[data-key="lead_time"] .level')).to_have_text("elite")
    await expect(page.locator('[data-key="lead_time"] .headline')).to_contain_text("12h")
    await expect(page.locator('[data-key="recovery_time"] .level')).to_have_text("no data")
    await expect(page.locator(".insights-keys .level")).to_have_count(4)

    await page.select_option("select[name=bucket]", "day")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("img", name="Deployments per day")).to_be_visible()

    await page.get_by_role("navigation").get_by_role("link", name="Home").click()
    await page.wait_for_url(f"{live.url}/ui/")
    await page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    await page.wait_for_url(f"{live.url}/ui/insights")
    await expect(page.locator("select[name=bucket]")).to_have_value("day")
    await expect(page.get_by_role("img", name="Deployments per day")).to_be_visible()
