"""The reports pages in a real headless Chromium, over the demo's seeded year: the embedded
emulator seeded as ``disputedesk demo`` seeds it, mirrored by ``sync`` (a backfill: no events),
the report facts built by the worker's catch-up job. Takes docs/screenshots/reports.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from disputedesk import embedded
from disputedesk.config import Settings
from disputedesk.services import accounts
from disputedesk.services import sync as sync_service
from disputedesk.services.jobs import ensure_periodic
from disputedesk.testing import cheap_password_hashing, ManualClock, run_server
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps
from disputedesk.worker import Worker

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    from disputedesk.store import make_engine, migrate

    with pytest.MonkeyPatch.context() as mp:
        cheap_password_hashing(mp)
        tmp = tmp_path_factory.mktemp("reports-e2e")
        url = f"sqlite:///{tmp / 'desk.db'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        stripe = embedded.start_embedded_stripe(seed=42, seed_data=True, customers=300,
                                                charges=3000)
        try:
            settings = embedded.settings_for(Settings(database_url=url, data_dir=tmp), stripe)
            clock = ManualClock(stripe.server.emulator.clock.now())
            deps = build_deps(settings, clock=clock, migrate=False)
            sync_service.sync(deps)
            ensure_periodic(deps, deps.jobs)  # what the worker does on start
            Worker(deps).run_until_idle()
            accounts.create_user(deps, username="vic", role="viewer", password=PASSWORD)
            with run_server(create_app(deps)) as base:
                yield deps, base
            deps.close()
        finally:
            stripe.stop()


@pytest.fixture(scope="module")
def page(desk):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    _deps, base = desk
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      timezone_id="Europe/Berlin", java_script_enabled=False)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"{base}/login?next=/reports")
        page.fill("input[name=username]", "vic")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("main button[type=submit]")
        yield page
        browser.close()


def test_the_reports_page_draws_the_seeded_year_without_javascript(desk, page):
    _deps, base = desk
    page.goto(f"{base}/reports")
    assert page.locator("svg.chart").count() == 5
    titles = page.locator("svg.chart > title").all_text_contents()
    assert "Disputes by month and outcome" in titles and "Visa VAMP ratio by month" in titles
    monthly = page.locator("#disputes-monthly tbody tr")
    assert monthly.count() == 12
    counted = sum(int(monthly.nth(i).locator("td").nth(1).inner_text()) for i in range(12))
    assert counted > 20  # a year of disputes, not an empty page
    # every bar of the monthly chart is in the table beneath: the chart's description says so
    desc = page.locator("svg.chart > desc").first.text_content()
    first_month = monthly.nth(0).locator("td").first.inner_text()
    assert desc.startswith(first_month)
    vamp = page.locator("#monitoring-vamp tbody tr")
    assert vamp.count() == 12
    assert page.locator("#refunds-by_origin tbody tr").count() >= 1
    assert "outside the desk" in page.locator("#refunds-by_origin").inner_text()
    page.locator("svg.chart").first.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base}/reports")
    page.screenshot(path=str(SCREENSHOTS / "reports.png"))
    csv_link = page.locator("#disputes-money summary a").get_attribute("href")
    assert csv_link.startswith("/api/v1/reports/disputes?format=csv&table=money")


def test_closed_disputes_filter_by_outcome_and_link_to_each_dispute(desk, page):
    _deps, base = desk
    page.goto(f"{base}/closed-disputes")
    page.select_option("select[name=outcome]", "won")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    rows = page.locator("table.list tbody tr")
    assert rows.count() >= 1
    outcomes = page.locator("table.list tbody .pill").all_inner_texts()
    assert outcomes and set(outcomes) == {"won"}
    link = rows.first.locator("a").first
    dispute_id = link.inner_text()
    with page.expect_navigation():
        link.click()
    assert page.url.endswith(f"/disputes/{dispute_id}")


def test_the_refunds_page_lists_refunds_made_outside_the_desk(desk, page):
    _deps, base = desk
    page.goto(f"{base}/refunds?origin=outside")
    rows = page.locator("table.mirror-refunds tbody tr[data-origin]")
    assert rows.count() >= 1
    assert {rows.nth(i).get_attribute("data-origin") for i in range(rows.count())} == {"outside"}
    page.goto(f"{base}/refunds?origin=person")
    assert page.locator("table.mirror-refunds tbody tr[data-origin]").count() == 0
