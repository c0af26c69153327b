"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
signing in, working a dispute to `won`, refunds (partial, approved by a second person, bulk) and
replaying a failed event. The desk runs in uvicorn on port 0 over a temporary SQLite file, the
Stripe emulator beside it; Stripe's events reach the desk by the sync catch-up (GET /v1/events
into the inbox) and the worker. Screenshots of the main pages go to docs/screenshots/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import accounts
from disputedesk.services.refunds.testing import pay, pump_events
from disputedesk.store import inbox
from disputedesk.store import mirror as repo
from disputedesk.testing import cheap_password_hashing, ManualClock, run_server
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"
APPROVAL_THRESHOLD = "100.00 USD"


class Stack:
    def __init__(self, emulator, deps, url: str) -> None:
        self.emulator, self.deps, self.url = emulator, deps, url
        self.client = emulator.stripe_client()

    def advance(self, seconds: float) -> None:
        self.emulator.advance(seconds)
        self.deps.clock.set(self.emulator.emulator.clock.now())

    def sync(self) -> None:
        """Stripe's events into the desk's inbox, then the worker until idle."""
        self.deps.clock.set(self.emulator.emulator.clock.now())
        pump_events(self.deps)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from disputedesk.store import make_engine, migrate

    with pytest.MonkeyPatch.context() as mp:
        cheap_password_hashing(mp)
        tmp = tmp_path_factory.mktemp("e2e")
        url = f"sqlite:///{tmp / 'desk.db'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        with running_emulator(seed=7) as emulator:
            settings = Settings(database_url=url, data_dir=tmp,
                                stripe_api_key=SecretStr("sk_test_e2e"),
                                stripe_api_base=emulator.base_url, stripe_rate_limit=1000,
                                stripe_max_retries=2, stripe_timeout=10,
                                approval_threshold=APPROVAL_THRESHOLD)
            deps = build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()),
                              migrate=False)
            for name, role in (("ana", "agent"), ("bo", "approver"), ("root", "admin"),
                               ("vic", "viewer")):
                accounts.create_user(deps, username=name, role=role, password=PASSWORD)
            with run_server(create_app(deps)) as desk_url:
                yield Stack(emulator, deps, desk_url)
            deps.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(apt-get install chromium) to run the browser tests", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 820},
                                      timezone_id="Europe/Berlin", accept_downloads=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, stack: Stack, username: str, *, next_path: str = "/") -> None:
    page.goto(f"{stack.url}/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    press(page, "main button[type=submit]")
    page.wait_for_load_state("load")
    assert "/login" not in page.url, page.content()[:2000]


def shot(page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def press(page, selector: str) -> None:
    """Click a form's button and wait for the page the server answers with."""
    with page.expect_navigation():
        page.click(selector)


def flash(page) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def small_pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


# --- signing in ---------------------------------------------------------------------------------

def test_a_new_user_signs_in_with_the_one_time_link_then_with_the_password(stack, new_page):
    accounts.create_user(stack.deps, username="newbie", role="viewer")
    link = accounts.login_link_url(stack.url, accounts.create_login_link(
        stack.deps, username="newbie", actor="root"))
    page = new_page()
    page.goto(link)
    press(page, "main button[type=submit]")  # "Continue": only this spends the link
    assert page.url.endswith("/account/password")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_again]", PASSWORD)
    press(page, "main button[type=submit]")
    page.wait_for_url("**/disputes")
    assert page.locator(".who .user").inner_text() == "newbie"

    again = new_page()
    again.goto(f"{stack.url}/disputes")
    assert "/login" in again.url  # no session in a fresh browser
    shot(again, "login")
    again.fill("input[name=username]", "newbie")
    again.fill("input[name=password]", "wrong password entirely")
    press(again, "main button[type=submit]")
    assert "Wrong user name or password" in flash(again)
    again.fill("input[name=password]", PASSWORD)
    press(again, "main button[type=submit]")
    again.wait_for_url("**/disputes")
    assert again.locator("h1").inner_text() == "Disputes inbox"
    # A viewer reads but is offered no refund button.
    again.goto(f"{stack.url}/refunds")
    assert again.locator("text=Issue a refund").count() == 0


# --- a dispute, from the inbox to won ---------------------------------------------------------------

def test_an_agent_works_a_dispute_from_the_inbox_to_won(stack, new_page):
    charge = stack.client.v1.payment_intents.create(params={
        "amount": 4200, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True, "metadata": {"order_id": "ord_e2e_1", "ip_address": "198.51.100.23"},
        "description": "Trail running shoes", "receipt_email": "ada@example.com",
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}).latest_charge
    stack.advance(2)
    stack.sync()
    (dispute,) = stack.client.v1.disputes.list(params={"charge": charge}).data

    page = new_page()
    sign_in(page, stack, "ana")
    page.goto(f"{stack.url}/disputes")
    row = page.locator("table.list tbody tr", has=page.locator(f"a[href='/disputes/{dispute.id}']"))
    assert "42.00 USD" in row.inner_text()
    assert row.locator("time.countdown").count() == 1
    # A to-do list: the first row needs a response and says when it is due.
    first = page.locator("table.list tbody tr").first
    assert first.get_attribute("class") == "todo" and "due in" in first.inner_text()
    shot(page, "inbox")
    row.locator(f"a[href='/disputes/{dispute.id}']").click()
    page.wait_for_url(f"**/disputes/{dispute.id}")
    assert page.locator("#evidence h2").inner_text().startswith("Evidence")
    # Each field names the record it came from; what the desk cannot back is listed with what
    # to add, and the product type shows what it was inferred from.
    assert page.locator("#to-add li").count() > 0
    assert page.locator("#product-type-source").inner_text().strip()
    # Built (the charge is fetched; what the desk's rules staged is its own, composed again):
    # each field's record, and the letter's sentences each with its sources.
    press(page, "#answer button:has-text('Build evidence')")
    sources = " ".join(page.locator("#evidence .source").all_inner_texts())
    assert "from charge ch_" in sources
    assert "no record holds it yet" in sources
    assert page.locator("#evidence ol.claims li").count() > 0
    page.locator("#evidence").screenshot(path=str(SCREENSHOTS / "dispute.png"))

    # Edit a field: the rebuttal letter (the emulator's magic string decides the outcome).
    page.fill("textarea[name='field.uncategorized_text']", "winning_evidence")
    page.fill("#evidence input[name=note]", "e2e: rebuttal written")
    press(page, "#evidence button[type=submit]")
    assert "Saved 1 field" in flash(page)
    assert page.locator("textarea[name='field.uncategorized_text']").input_value() == \
        "winning_evidence"

    # Upload a document; the page shows its size and pages against the budget.
    page.select_option("#files select[name=field]", "shipping_documentation")
    page.set_input_files("#files input[type=file]", files=[{
        "name": "label.pdf", "mimeType": "application/pdf", "buffer": small_pdf("Delivered")}])
    press(page, "#files button[type=submit]")
    assert "Attached label.pdf" in flash(page)
    assert "label.pdf" in page.locator("#files table").inner_text()
    assert "of 4.50 MB" in page.locator("#files .budget").inner_text()

    press(page, "#answer button:has-text('Build evidence')")
    assert "Evidence built" in flash(page)
    press(page, "#answer button:has-text('Stage on Stripe')")
    assert "staged" in flash(page)
    assert "typed by ana (their own statement)" in page.locator("#evidence").inner_text()
    assert stack.client.v1.disputes.retrieve(dispute.id).status == "needs_response"

    press(page, "#answer button:has-text('Preview and submit')")
    assert page.locator("h1").inner_text().startswith("Submit evidence for")
    preview = page.locator("table.preview").inner_text()
    assert "evidence[uncategorized_text]" in preview and "winning_evidence" in preview
    assert "evidence[shipping_documentation]" in preview and "file_" in preview
    assert "as on Stripe" in preview  # against what Stripe already holds (staged just before)
    shot(page, "preview")
    press(page, "button:has-text('Submit this evidence')")
    assert "Evidence submitted" in flash(page)
    assert stack.client.v1.disputes.retrieve(dispute.id).status == "under_review"

    stack.advance(10)  # the issuer decides
    stack.sync()
    page.reload()
    assert "won" in page.locator(".facts").inner_text()
    assert "Outcome: won" in flash(page)
    with stack.deps.store.read() as conn:
        assert repo.get_object(conn, "dispute", dispute.id)["status"] == "won"


# --- refunds ------------------------------------------------------------------------------------------

def test_an_agent_issues_a_partial_refund_and_sees_the_checks(stack, new_page):
    charge = pay(stack.client, 5000, email="partial@example.com")
    stack.sync()
    page = new_page()
    sign_in(page, stack, "ana")
    page.goto(f"{stack.url}/refunds?email=partial@example.com")
    page.click(f"a[href='/refunds/new?target={charge}']")
    assert "50.00 USD" in page.locator("dl.kv").first.inner_text()
    page.fill("input[name=amount]", "12.50")
    page.select_option("select[name=reason]", "requested_by_customer")
    shot(page, "refund_new")
    press(page, "form[method=post][action='/refunds/new'] button[type=submit]")
    # Nothing is sent before the person confirms the sentence that says what will happen.
    assert page.locator("#refund-sentence").inner_text() == (
        f"Refund 12.50 USD of 50.00 USD on {charge}; 37.50 USD will remain.")
    assert stack.client.v1.refunds.list(params={"charge": charge}).data == []
    shot(page, "refund_review")
    press(page, "button:has-text('Refund 12.50 USD')")
    assert "Refund of 12.50 USD sent to Stripe" in flash(page), page.content()[-3000:]
    refunds = stack.client.v1.refunds.list(params={"charge": charge}).data
    assert [r.amount for r in refunds] == [1250]

    # Asking for more than is left is refused next to the amount, with what was typed kept.
    page.goto(f"{stack.url}/refunds/new?target={charge}")
    page.fill("input[name=amount]", "40.00")
    page.fill("input[name=note]", "customer asked twice")
    press(page, "form[method=post][action='/refunds/new'] button[type=submit]")
    assert "37.50" in page.locator("#e-refund-amount").inner_text()
    assert page.locator(".error-summary a[href='#f-refund-amount']").count() == 1
    assert page.input_value("input[name=amount]") == "40.00"
    assert page.input_value("input[name=note]") == "customer asked twice"
    assert page.evaluate("document.activeElement.name") == "amount"  # focus on the error
    assert len(stack.client.v1.refunds.list(params={"charge": charge}).data) == 1

    # An amount left empty is never "full": it is asked for, the note kept.
    page.fill("input[name=amount]", "")
    press(page, "form[method=post][action='/refunds/new'] button[type=submit]")
    assert "Type the amount to refund" in page.locator("#e-refund-amount").inner_text()
    assert page.input_value("input[name=note]") == "customer asked twice"
    shot(page, "refund_error")
    assert len(stack.client.v1.refunds.list(params={"charge": charge}).data) == 1


def test_a_refund_over_the_threshold_waits_for_a_second_person(stack, new_page):
    charge = pay(stack.client, 25000)
    stack.sync()
    agent = new_page()
    sign_in(agent, stack, "ana")
    agent.goto(f"{stack.url}/refunds/new?target={charge}")
    agent.check("input[name=mode][value=full]")  # full is a choice the person makes
    press(agent, "form[method=post][action='/refunds/new'] button[type=submit]")
    assert agent.locator("#refund-sentence").inner_text() == (
        f"Refund all 250.00 USD left on {charge}; nothing will remain.")
    press(agent, "button:has-text('Refund 250.00 USD')")
    assert "needs approval" in flash(agent)
    assert stack.client.v1.refunds.list(params={"charge": charge}).data == []
    request_url = agent.url

    approver = new_page()
    sign_in(approver, stack, "bo")
    approver.goto(f"{stack.url}/refunds/approvals")
    row = approver.locator("table.list tbody tr", has_text=charge)
    assert "250.00 USD" in row.inner_text() and "ana" in row.inner_text()
    shot(approver, "approvals")
    with approver.expect_navigation():
        row.locator("button:has-text('Approve')").click()
    assert "Approved and sent to Stripe" in flash(approver)
    assert [r.amount for r in stack.client.v1.refunds.list(params={"charge": charge}).data] == \
        [25000]
    agent.goto(request_url)
    assert "bo" in agent.locator("dl.kv").inner_text()


def test_an_approver_runs_a_bulk_refund_file_with_live_progress(stack, new_page, tmp_path):
    charges = [pay(stack.client, 3000 + i) for i in range(3)]
    stack.sync()
    csv_text = "charge,amount,reason\n" + "".join(
        f"{c},{'5.00' if i == 0 else 'full'},requested_by_customer\n" for i, c in enumerate(charges))
    page = new_page()
    sign_in(page, stack, "bo")
    page.goto(f"{stack.url}/refunds/bulk")
    page.set_input_files("input[type=file]", files=[{
        "name": "refunds.csv", "mimeType": "text/csv", "buffer": csv_text.encode()}])
    press(page, "form[action='/refunds/bulk'] button[type=submit]")
    assert "/refunds/bulk/" in page.url, flash(page)
    # Checked, not run: each row's outcome and the total per currency, then an explicit confirm.
    assert page.locator("#bulk-sentence").inner_text() == "Refund 3 rows: 65.03 USD (3 rows)."
    assert page.locator("#bulk-plan tbody tr").count() == 3
    assert "65.03 USD" in page.locator("#bulk-totals").inner_text()
    shot(page, "bulk_review")
    assert amounts_at_stripe(stack, charges) == []
    press(page, "#bulk-confirm")
    assert "Confirmed" in flash(page)
    stack.sync()  # the worker takes the job from the queue
    page.wait_for_selector("#bulk-job[data-finished='1']")
    assert page.locator("#bulk-finished").inner_text() == "3"
    shot(page, "bulk")
    with page.expect_download() as download:
        page.click("a:has-text('Download the result file')")
    result = Path(download.value.path()).read_text()
    assert result.splitlines()[0].startswith("row")
    assert len(result.strip().splitlines()) == 4
    assert amounts_at_stripe(stack, charges) == sorted([500, 3001, 3002])


def amounts_at_stripe(stack, charges):
    return sorted(r.amount for c in charges
                  for r in stack.client.v1.refunds.list(params={"charge": c}).data)


# --- events -------------------------------------------------------------------------------------------

def test_an_agent_replays_a_failed_event(stack, new_page):
    # Its own charge, so the test does not depend on what other tests left in the emulator.
    stack.client.v1.payment_intents.create(params={
        "amount": 1200, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    stack.sync()
    with stack.deps.store.read() as conn:
        (template,) = inbox.list_events(conn, type="charge.succeeded", limit=1)
        original = inbox.get_event(conn, template["id"])
    payload = json.loads(original["payload"])
    payload["id"] = "evt_e2e_failed_once"
    now = stack.deps.clock.now()
    with stack.deps.store.write() as conn:
        inbox.insert_events(conn, [{
            "id": payload["id"], "type": payload["type"], "created": payload["created"],
            "account": None, "livemode": False, "api_version": payload.get("api_version"),
            "object_type": "charge", "object_id": payload["data"]["object"]["id"],
            "payload": json.dumps(payload), "status": "failed", "attempts": 8,
            "last_error": "OperationalError: database is locked (simulated)",
            "next_attempt_at": now, "received_at": now, "processed_at": None}])

    page = new_page()
    sign_in(page, stack, "ana")
    page.goto(f"{stack.url}/events?status=failed")
    row = page.locator("table.list tbody tr", has_text="evt_e2e_failed_once")
    assert "database is locked" in row.inner_text()
    shot(page, "events")
    with page.expect_navigation():
        row.locator("button:has-text('Replay')").click()
    assert "queued again" in flash(page)
    from disputedesk.worker import Worker

    Worker(stack.deps).run_until_idle()
    page.goto(f"{stack.url}/events/evt_e2e_failed_once")
    assert "processed" in page.locator(".head").inner_text()
    page.goto(f"{stack.url}/audit?action=events.replay")
    assert "ana" in page.locator("table.list tbody").inner_text()


def test_the_rules_and_audit_pages_render_for_a_viewer(stack, new_page):
    page = new_page()
    sign_in(page, stack, "vic")
    page.goto(f"{stack.url}/rules")
    assert page.locator("h1").inner_text() == "Automation rules"
    press(page, "button:has-text('Run backtest')")
    assert "Backtest finished" in flash(page)
    shot(page, "rules")
    page.goto(f"{stack.url}/audit")
    assert page.locator("table.list tbody tr").count() > 3
    shot(page, "audit")
    page.goto(f"{stack.url}/refunds/approvals")
    assert page.locator("button:has-text('Approve')").count() == 0
    response = page.goto(f"{stack.url}/refunds/new")
    assert response.status == 403 and "Not allowed" in page.content()
    assert "Traceback" not in page.content()


# --- errors where the eye is; a phone ---------------------------------------------------------------

def _new_dispute(stack, amount: int = 4200) -> tuple[str, str]:
    charge = stack.client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True,
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}).latest_charge
    stack.advance(2)
    stack.sync()
    (dispute,) = stack.client.v1.disputes.list(params={"charge": charge}).data
    return dispute.id, charge


def test_a_refused_accept_keeps_the_note_and_puts_the_error_at_the_field(stack, new_page):
    dispute_id, _ = _new_dispute(stack)
    page = new_page()
    sign_in(page, stack, "ana")
    page.goto(f"{stack.url}/disputes/{dispute_id}")
    page.click("#accept summary")
    # What a browser without validation (or a hurried person) would send: a wrong id.
    page.evaluate("document.querySelectorAll('#accept [required]')"
                  ".forEach(function (e) { e.removeAttribute('required'); })")
    page.check("#accept input[name=confirm]")
    page.fill("#accept input[name=confirm_id]", "du_not_this_one")
    page.fill("#accept input[name=note]", "customer admitted the purchase")
    press(page, "#accept button[type=submit]")
    assert page.locator("#accept").get_attribute("open") is not None
    assert page.input_value("#accept input[name=note]") == "customer admitted the purchase"
    assert page.input_value("#accept input[name=confirm_id]") == "du_not_this_one"
    assert dispute_id in page.locator("#e-accept-confirm_id").inner_text()
    assert page.locator(".error-summary a[href='#f-accept-confirm_id']").count() == 1
    assert page.evaluate("document.activeElement.name") == "confirm_id", page.evaluate("document.activeElement.outerHTML.slice(0, 300) + document.querySelectorAll(\"[aria-invalid=true]\").length")
    assert stack.client.v1.disputes.retrieve(dispute_id).status == "needs_response"


PAGE_FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_inbox_a_dispute_approvals_and_the_refund_form_fit_the_screen(stack, browser, width):
    dispute_id, _ = _new_dispute(stack, 5100)
    waiting = pay(stack.client, 20000)
    stack.sync()
    accounts_user = "ana"
    from disputedesk.services import refunds as refund_service

    refund_service.request_refund(stack.deps, waiting, actor=accounts_user, amount="full")
    context = browser.new_context(viewport={"width": width, "height": 844 if width < 500 else 820},
                                  timezone_id="Europe/Berlin", is_mobile=width < 500)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, stack, "bo")
        for path in ("/disputes", f"/disputes/{dispute_id}", "/refunds/approvals",
                     f"/refunds/new?target={waiting}", "/refunds/bulk"):
            page.goto(f"{stack.url}{path}")
            assert page.evaluate(PAGE_FITS), (
                f"{path} scrolls sideways at {width} px: "
                f"{page.evaluate('document.documentElement.scrollWidth')} px wide")
            if width < 500 and path.startswith("/disputes/"):
                shot(page, "phone_dispute")
            if width < 500 and path == "/disputes":
                shot(page, "phone_inbox")
        # The refund form is usable: the amount field and the button are on screen, not clipped.
        page.goto(f"{stack.url}/refunds/new?target={waiting}")
        box = page.locator("input[name=amount]").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    finally:
        context.close()
