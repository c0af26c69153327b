"""The merchant's orders in the desk: CSV import, a configured SQL source, and evidence composed
from them for a real emulator dispute."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.evidence.orders import OrderImportError
from disputedesk.services import disputes as svc
from disputedesk.services.events import initial_status, process_batch
from disputedesk.store import inbox
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps

CSV = """order_id,email,total,currency,created_at,carrier,tracking_number,shipped_at,shipping_line1,shipping_city,shipping_postal_code,shipping_country,product_description
ord_1001,jenny@example.com,42.00,usd,2026-01-05T10:00:00Z,UPS,1Z999AA10123456784,2026-01-06,1 Main St,Springfield,62701,US,Blue running shoes size 42
ord_1002,sam@example.com,10.00,usd,2026-01-07T10:00:00Z,USPS,9400111899223197428490,2026-01-08,2 Side St,Springfield,62702,US,Socks
"""


@pytest.fixture
def emulator():
    with running_emulator(seed=9) as server:
        yield server


def make_desk(emulator, database_url, tmp_path, **extra):
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_orders"), stripe_api_base=emulator.base_url,
                        stripe_rate_limit=1000, **extra)
    return build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)


def pull(desk) -> None:
    now = desk.clock.now()
    rows = []
    for event in desk.gateway().list_objects("event", {"limit": 100}):
        obj = event["data"]["object"]
        rows.append({
            "id": event["id"], "type": event["type"], "created": event["created"], "account": None,
            "livemode": False, "api_version": event.get("api_version"),
            "object_type": obj.get("object"), "object_id": obj.get("id"),
            "payload": json.dumps(event),
            "status": initial_status(event["type"], obj.get("object"), desk.event_listeners),
            "attempts": 0, "last_error": None, "next_attempt_at": now, "received_at": now,
            "processed_at": None})
    with desk.store.write() as conn:
        inbox.insert_events(conn, rows[::-1])
    while process_batch(desk.store, desk.clock, limit=500, listeners=desk.event_listeners).claimed:
        pass


def dispute_for_order(emulator, desk, order_id: str, pm: str = "pm_card_createDisputeProductNotReceived"):
    client = emulator.stripe_client()
    pi = client.v1.payment_intents.create(params={
        "amount": 4200, "currency": "usd", "payment_method": pm, "confirm": True,
        "metadata": {"order_id": order_id}})
    emulator.advance(2)
    desk.clock.set(emulator.emulator.clock.now())
    pull(desk)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    return dispute.id


def test_a_csv_import_is_stored_and_reports_which_open_disputes_it_matches(emulator, database_url,
                                                                          tmp_path):
    desk = make_desk(emulator, database_url, tmp_path)
    try:
        matched_id = dispute_for_order(emulator, desk, "ord_1001")
        unmatched_id = dispute_for_order(emulator, desk, "ord_9999")
        path = tmp_path / "orders.csv"
        path.write_text(CSV)
        report = svc.import_orders(desk, path, actor="ana", filename="orders.csv")
        assert (report.rows, report.created, report.updated) == (2, 2, 0)
        assert report.disputes_matched == [(matched_id, "ord_1001")]
        assert report.disputes_unmatched == [unmatched_id]
        again = svc.import_orders(desk, path, actor="ana")
        assert (again.created, again.updated) == (0, 2)

        view = svc.build(desk, matched_id, actor="ana").view
        assert view.order_id == "ord_1001" and view.order_source == "imported"
        assert view.fields["shipping_tracking_number"] == "1Z999AA10123456784"
        assert view.sources["shipping_carrier"] == "order"
        assert view.fields["shipping_address"].startswith("1 Main St, Springfield")
        assert "shipping_date" in view.filled
    finally:
        desk.close()


def test_an_import_with_bad_rows_is_refused_whole_naming_each_problem(emulator, database_url,
                                                                       tmp_path):
    desk = make_desk(emulator, database_url, tmp_path)
    try:
        bad = CSV + "ord_1003,not-an-email,abc,usd,yesterday,,,,,,,,\n"
        with pytest.raises(OrderImportError) as info:
            svc.import_orders(desk, bad.encode(), actor="ana", format="csv")
        assert "row 4" in str(info.value.hint)
        with desk.store.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM orders")).scalar() == 0
    finally:
        desk.close()


def test_evidence_is_composed_from_a_configured_sql_order_source(emulator, database_url, tmp_path):
    shop = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{shop}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE shop_orders (number TEXT, email TEXT, total INTEGER, "
                             "currency TEXT, carrier TEXT, tracking TEXT)")
        conn.exec_driver_sql("INSERT INTO shop_orders VALUES ('ord_77', 'lee@example.com', 4200, "
                             "'usd', 'DHL', 'JD014600006281234567')")
    engine.dispose()
    config = tmp_path / "orders.toml"
    config.write_text(
        'kind = "sql"\n'
        f'url = "sqlite:///{shop}"\n'
        'query = "SELECT number AS order_id, email, total, currency, carrier AS shipping_carrier, '
        'tracking AS tracking_number FROM shop_orders WHERE number = :order_id"\n'
        'amount_unit = "minor"\n')
    desk = make_desk(emulator, database_url, tmp_path, order_source_file=config)
    try:
        dispute_id = dispute_for_order(emulator, desk, "ord_77")
        view = svc.get_evidence(desk, dispute_id)
        assert view.order_id == "ord_77" and view.order_source != "imported"
        assert view.fields["shipping_carrier"] == "DHL"
        assert view.fields["shipping_tracking_number"] == "JD014600006281234567"
    finally:
        desk.close()
