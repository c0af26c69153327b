"""Order sources against real backends: a SQLite file, PostgreSQL (when configured), a local HTTP
server; the read-only guards; the settings file; matching charges to orders."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import unquote

import httpx
import pytest
import sqlalchemy as sa

from disputedesk.evidence.orders import (
    HttpOrderSource,
    MemoryOrderSource,
    Order,
    OrderDataError,
    OrderKeys,
    OrderSourceConfigError,
    OrderSourceError,
    SqlOrderSource,
    WriteQueryRefused,
    build_order_source,
    check_read_only,
    load_order_source_config,
    match_orders,
)
from disputedesk.evidence.orders.sql_source import read_only_rows
from disputedesk.testing import make_charge

PG_ENV = "DISPUTEDESK_TEST_DATABASE_URL"
QUERY = ("SELECT number AS order_id, buyer_email, total, currency, placed_at, payment_intent_id, "
         "items_json AS items FROM orders "
         "WHERE number = :order_id OR payment_intent_id = :payment_intent OR lower(buyer_email) = :email")


# --- SQLite --------------------------------------------------------------------------------------

@pytest.fixture
def shop_db(tmp_path) -> str:
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE orders (number TEXT, buyer_email TEXT, total TEXT, currency TEXT, "
                 "placed_at TEXT, payment_intent_id TEXT, items_json TEXT, cents INTEGER)")
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        ("1001", "Jane@Example.com", "45.50", "usd", "2026-03-04T10:00:00Z", "pi_A", '[{"name": "Mug"}]', 4550),
        ("1002", "sam@example.com", "12.00", "usd", "2026-03-05T10:00:00Z", None, None, 1200),
    ])
    conn.commit()
    conn.close()
    return str(path)


def _count(path: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]


def test_sql_source_on_sqlite_finds_orders_by_each_key(shop_db):
    source = SqlOrderSource(f"sqlite:///{shop_db}", QUERY)
    try:
        by_id = source.lookup(OrderKeys(order_id="1001"))
        assert by_id == {"id": "1001", "customer_email": "jane@example.com", "amount": 4550, "currency": "usd",
                         "created": 1772618400, "payment_intent": "pi_A", "items": [{"name": "Mug"}]}
        assert source.lookup(OrderKeys(payment_intent="pi_A")).id == "1001"
        assert source.lookup(OrderKeys(email="SAM@example.com")).id == "1002"
        assert source.lookup(OrderKeys(order_id="404")) is None
        assert source.lookup(OrderKeys()) is None
    finally:
        source.close()


def test_sql_source_maps_columns_explicitly(shop_db):
    source = SqlOrderSource(f"sqlite:///{shop_db}", "SELECT * FROM orders WHERE number = :order_id",
                            mapping={"id": "number", "customer_email": "buyer_email", "amount": "cents",
                                     "created": "placed_at", "payment_intent": "payment_intent_id"},
                            amount_unit="minor")
    try:
        assert source.lookup(OrderKeys(order_id="1002")).to_dict() == {
            "id": "1002", "customer_email": "sam@example.com", "amount": 1200, "currency": "usd",
            "created": 1772704800}
    finally:
        source.close()


def test_integer_amounts_from_sqlite_need_the_unit_set(shop_db):
    # SQLite keeps NUMERIC 12.00 as the integer 12: cents or dollars cannot be told apart.
    query = "SELECT number AS id, cents AS amount, currency FROM orders WHERE number = :order_id"
    auto = SqlOrderSource(f"sqlite:///{shop_db}", query)
    minor = SqlOrderSource(f"sqlite:///{shop_db}", query, amount_unit="minor")
    try:
        with pytest.raises(OrderDataError) as caught:
            auto.lookup(OrderKeys(order_id="1001"))
        assert 'set amount_unit to "minor" or "major"' in caught.value.problems[0].hint
        assert minor.lookup(OrderKeys(order_id="1001")).amount == 4550
    finally:
        auto.close()
        minor.close()


REFUSED = [
    "INSERT INTO orders (number) VALUES (:order_id)",
    "UPDATE orders SET total = 0 WHERE number = :order_id",
    "DELETE FROM orders WHERE number = :order_id",
    "DROP TABLE orders",
    "SELECT * FROM orders WHERE number = :order_id; DROP TABLE orders",
    "SELECT * FROM orders WHERE number = :order_id; SELECT 1",
    "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone WHERE number = :order_id",
    "SELECT * INTO copy FROM orders WHERE number = :order_id",
    "SELECT * FROM orders WHERE number = :order_id FOR UPDATE",
    "SELECT * FROM orders WHERE number = :order_id /* ; */ ; DELETE FROM orders",
    "SELECT setval('s', 1) FROM orders WHERE number = :order_id",
    "SELECT * FROM orders WHERE number = 'x\\'; DROP TABLE orders; --' AND number = :order_id",
    "PRAGMA writable_schema = 1",
    "ATTACH DATABASE 'x.db' AS x",
]


@pytest.mark.parametrize("query", REFUSED)
def test_write_statements_are_refused_before_anything_runs(shop_db, query):
    with pytest.raises(WriteQueryRefused):
        SqlOrderSource(f"sqlite:///{shop_db}", query)
    with pytest.raises(WriteQueryRefused):
        check_read_only(query, "postgresql")
    assert _count(shop_db) == 2


def test_keywords_inside_strings_comments_and_quoted_names_are_not_code():
    query = ("SELECT o.\"delete\", 'drop; table' AS note, $q$; insert$q$ AS x -- ; update\n"
             "FROM orders o WHERE o.number = :order_id;")
    assert check_read_only(query, "postgresql") == ["order_id"]


def test_a_query_without_parameters_or_with_unknown_ones_is_refused(shop_db):
    with pytest.raises(OrderSourceConfigError, match="no parameter"):
        SqlOrderSource(f"sqlite:///{shop_db}", "SELECT * FROM orders")
    with pytest.raises(OrderSourceConfigError, match=":customer"):
        SqlOrderSource(f"sqlite:///{shop_db}", "SELECT * FROM orders WHERE number = :customer")


def test_sqlite_read_only_transaction_stops_a_write_the_static_check_would_refuse(shop_db):
    source = SqlOrderSource(f"sqlite:///{shop_db}", QUERY)
    try:
        for write in ("INSERT INTO orders (number) VALUES ('x')",
                      "WITH x AS (SELECT 1) DELETE FROM orders"):
            with pytest.raises(WriteQueryRefused, match="refused a write"):
                read_only_rows(source._engine, write, {}, timeout=5, max_rows=10)
    finally:
        source.close()
    assert _count(shop_db) == 2


def test_sqlite_query_over_the_timeout_is_interrupted(shop_db):
    source = SqlOrderSource(f"sqlite:///{shop_db}", QUERY, timeout=0.2)
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    try:
        with pytest.raises(OrderSourceError, match="took longer than 0.2 s"):
            read_only_rows(source._engine, endless, {}, timeout=0.2, max_rows=10)
    finally:
        source.close()


def test_a_query_that_returns_too_many_rows_is_refused(shop_db):
    source = SqlOrderSource(f"sqlite:///{shop_db}", "SELECT * FROM orders WHERE :email IS NOT NULL",
                            max_rows=1)
    try:
        with pytest.raises(OrderSourceConfigError, match="more than 1 rows"):
            source.lookup(OrderKeys(email="a@example.com"))
    finally:
        source.close()


def test_a_wrong_query_names_the_database_error(shop_db):
    source = SqlOrderSource(f"sqlite:///{shop_db}", "SELECT * FROM order_lines WHERE id = :order_id")
    try:
        with pytest.raises(OrderSourceConfigError, match="no such table: order_lines"):
            source.lookup(OrderKeys(order_id="1"))
    finally:
        source.close()


def test_a_missing_sqlite_file_is_refused_and_not_created(tmp_path):
    missing = tmp_path / "nope.db"
    with pytest.raises(OrderSourceConfigError, match="no SQLite database file"):
        SqlOrderSource(f"sqlite:///{missing}", QUERY)
    assert not missing.exists()


def test_url_errors_never_show_the_password():
    with pytest.raises(OrderSourceConfigError) as unsupported:
        SqlOrderSource("mysql://shop:hunter2secret@db.example/shop", QUERY)
    assert "hunter2secret" not in str(unsupported.value) and "***" in str(unsupported.value)
    with pytest.raises(OrderSourceConfigError) as unreadable:
        SqlOrderSource("postgres ql://shop:hunter2secret@db/shop", QUERY)
    assert "hunter2secret" not in str(unreadable.value)
    source = SqlOrderSource("postgresql+psycopg://shop:hunter2secret@127.0.0.1:1/shop", QUERY, timeout=2)
    try:
        with pytest.raises(OrderSourceError) as down:
            source.lookup(OrderKeys(order_id="1"))
    finally:
        source.close()
    assert "cannot connect" in str(down.value)
    assert "hunter2secret" not in str(down.value) and "shop:***@127.0.0.1:1" in str(down.value)


# --- PostgreSQL ----------------------------------------------------------------------------------

@pytest.fixture
def pg_shop():
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set")
    schema = f"dd_orders_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        conn.exec_driver_sql(f'CREATE TABLE "{schema}".orders (number text PRIMARY KEY, buyer_email text, '
                             "total numeric(12,2), currency text, placed_at timestamptz, "
                             "payment_intent_id text, items jsonb, shipped_at timestamp)")
        conn.exec_driver_sql(
            f'INSERT INTO "{schema}".orders VALUES '
            "('1001', 'Jane@Example.com', 45.50, 'usd', '2026-03-04 11:00:00+01', 'pi_A', "
            "'[{\"name\": \"Mug\", \"quantity\": 2}]', '2026-03-05 09:00:00'), "
            "('1002', 'jane@example.com', 12.00, 'usd', '2026-03-06 10:00:00+00', NULL, NULL, NULL)")
    yield url, schema
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


@pytest.mark.postgres
def test_sql_source_on_postgresql_converts_numeric_timestamps_and_json(pg_shop):
    url, schema = pg_shop
    source = SqlOrderSource(url, f'SELECT number AS id, buyer_email, total, currency, placed_at AS created, '
                                 f'payment_intent_id, items, shipped_at FROM "{schema}".orders '
                                 "WHERE number = :order_id OR lower(buyer_email) = :email ORDER BY number")
    try:
        order = source.lookup(OrderKeys(order_id="1001"))
        assert order.to_dict() == {
            "id": "1001", "customer_email": "jane@example.com", "amount": 4550, "currency": "usd",
            "created": 1772618400, "payment_intent": "pi_A", "items": [{"name": "Mug", "quantity": 2}],
            "shipping": {"shipped_at": 1772701200}}
        both = source.find(OrderKeys(email="jane@example.com"))
        assert [o.id for o in both] == ["1001", "1002"]
        closest = source.lookup(OrderKeys(email="jane@example.com", amount=1200, created=1772790000))
        assert closest.id == "1002"
    finally:
        source.close()


@pytest.mark.postgres
def test_postgresql_read_only_transaction_stops_a_cte_that_deletes(pg_shop):
    url, schema = pg_shop
    delete = f'WITH gone AS (DELETE FROM "{schema}".orders RETURNING *) SELECT * FROM gone'
    with pytest.raises(WriteQueryRefused):
        SqlOrderSource(url, delete + " WHERE number = :order_id")  # the static guard
    engine = sa.create_engine(url)
    try:
        with pytest.raises(WriteQueryRefused, match="read-only transaction"):
            read_only_rows(engine, delete, {}, timeout=5, max_rows=10)  # the database's guard
        with pytest.raises(WriteQueryRefused):
            read_only_rows(engine, f'SELECT * FROM "{schema}".orders FOR UPDATE', {}, timeout=5, max_rows=10)
        with engine.connect() as conn:
            assert conn.exec_driver_sql(f'SELECT count(*) FROM "{schema}".orders').scalar() == 2
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_statement_timeout_stops_a_slow_query(pg_shop):
    url, _ = pg_shop
    engine = sa.create_engine(url)
    try:
        with pytest.raises(OrderSourceError, match="took longer than 0.2 s"):
            read_only_rows(engine, "SELECT pg_sleep(5)", {}, timeout=0.2, max_rows=1)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_query_errors_are_clear(pg_shop):
    url, schema = pg_shop
    source = SqlOrderSource(url, f'SELECT nope FROM "{schema}".orders WHERE number = :order_id')
    try:
        with pytest.raises(OrderSourceConfigError, match='column "nope" does not exist'):
            source.lookup(OrderKeys(order_id="1001"))
    finally:
        source.close()


# --- HTTP ----------------------------------------------------------------------------------------

class _Shop(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, object]]] = {}
    seen: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def do_GET(self):
        self.seen.append((self.path, dict(self.headers)))
        status, body = self.routes.get(self.path, (404, {"error": "not found"}))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        if status in (301, 302):
            self.send_header("Location", "http://elsewhere.example/")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def shop_http():
    handler = type("Handler", (_Shop,), {"routes": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


SHOP_ORDER = {
    "order": {"number": "1001", "placed": "2026-03-04T10:00:00Z",
              "buyer": {"mail": "Jane@Example.com", "name": "Jane Doe"},
              "money": {"total": "45.50", "currency": "EUR"},
              "fulfillments": [{"company": "DHL", "tracking": "JD0146"}]},
}
SHOP_MAPPING = {"id": "order.number", "created": "order.placed", "customer_email": "order.buyer.mail",
                "customer_name": "order.buyer.name", "amount": "order.money.total",
                "currency": "order.money.currency", "shipping_carrier": "order.fulfillments.0.company",
                "tracking_number": "order.fulfillments.0.tracking"}


def test_http_source_reads_an_order_from_a_local_server_with_bearer_auth(shop_http):
    base, handler = shop_http
    handler.routes["/api/orders/1001"] = (200, SHOP_ORDER)
    source = HttpOrderSource(f"{base}/api/orders/{{order_id}}", bearer_token="tok_secret_123",
                             headers={"X-Shop": "main"}, mapping=SHOP_MAPPING)
    try:
        order = source.lookup(OrderKeys(order_id="1001"))
        assert order.to_dict() == {"id": "1001", "created": 1772618400, "customer_email": "jane@example.com",
                                   "customer_name": "Jane Doe", "amount": 4550, "currency": "eur",
                                   "shipping": {"carrier": "DHL", "tracking_number": "JD0146"}}
        assert source.lookup(OrderKeys(order_id="9999")) is None  # 404
        assert source.lookup(OrderKeys(email="a@example.com")) is None  # no template for email
    finally:
        source.close()
    headers = handler.seen[0][1]
    assert headers["Authorization"] == "Bearer tok_secret_123" and headers["X-Shop"] == "main"


def test_http_source_url_encodes_values_and_tries_templates_in_order(shop_http):
    base, handler = shop_http
    handler.routes["/orders?email=jane%2Bshop%40example.com"] = (
        200, {"orders": [{"id": "1", "email": "jane+shop@example.com", "amount": 100, "currency": "usd",
                          "created": 1772600000},
                         {"id": "2", "email": "jane+shop@example.com", "amount": 4550, "currency": "usd",
                          "created": 1772000000}]})
    source = HttpOrderSource([f"{base}/orders/{{order_id}}", f"{base}/orders?email={{email}}"])
    try:
        found = source.find(OrderKeys(email="Jane+Shop@example.com"))
        assert [o.id for o in found] == ["1", "2"]
        assert source.lookup(OrderKeys(email="jane+shop@example.com", amount=4550, created=1772618400)).id == "2"
        source.find(OrderKeys(order_id="a/b c"))
    finally:
        source.close()
    assert [unquote(p) for p, _ in handler.seen][-1] == "/orders/a/b c"
    assert handler.seen[-1][0] == "/orders/a%2Fb%20c"


def test_http_errors_are_clear_and_never_show_the_token(shop_http):
    base, handler = shop_http
    handler.routes["/o/500"] = (500, {"error": "boom"})
    handler.routes["/o/401"] = (401, {"error": "who are you"})
    handler.routes["/o/302"] = (302, {})
    handler.routes["/o/html"] = (200, b"<html>login</html>")
    handler.routes["/o/bad"] = (200, {"id": "1", "email": "nope"})
    source = HttpOrderSource(f"{base}/o/{{order_id}}", bearer_token="tok_secret_123")
    try:
        with pytest.raises(OrderSourceError, match="answered 500") as server_error:
            source.lookup(OrderKeys(order_id="500"))
        with pytest.raises(OrderSourceConfigError, match="refused the credentials") as refused:
            source.lookup(OrderKeys(order_id="401"))
        with pytest.raises(OrderSourceConfigError, match="redirected"):
            source.lookup(OrderKeys(order_id="302"))
        with pytest.raises(OrderDataError, match="did not answer JSON"):
            source.lookup(OrderKeys(order_id="html"))
        with pytest.raises(OrderDataError) as bad:
            source.lookup(OrderKeys(order_id="bad"))
    finally:
        source.close()
    assert "not an email address" in str(bad.value)
    for exc in (server_error.value, refused.value):
        assert "tok_secret_123" not in str(exc) and "tok_secret_123" not in repr(exc.to_dict())
    assert all(p.startswith("/o/") for p, _ in handler.seen)  # the redirect was not followed


def test_http_timeouts_and_unreachable_endpoints_are_source_errors():
    def timeout(request):
        raise httpx.ReadTimeout("timed out", request=request)

    source = HttpOrderSource("https://shop.example/o/{order_id}", timeout=3,
                             transport=httpx.MockTransport(timeout))
    with pytest.raises(OrderSourceError, match="did not answer within 3 s"):
        source.lookup(OrderKeys(order_id="1"))
    down = HttpOrderSource("http://127.0.0.1:1/o/{order_id}", timeout=2)
    with pytest.raises(OrderSourceError, match="cannot reach"):
        down.lookup(OrderKeys(order_id="1"))


def test_http_url_templates_are_checked():
    with pytest.raises(OrderSourceConfigError, match="unknown placeholders"):
        HttpOrderSource("https://shop.example/o/{customer}")
    with pytest.raises(OrderSourceConfigError, match="no placeholder"):
        HttpOrderSource("https://shop.example/orders")
    with pytest.raises(OrderSourceConfigError, match="not an http") as bad:
        HttpOrderSource("ftp://u:pw123@shop.example/{order_id}")
    assert "pw123" not in str(bad.value)


# --- settings file -------------------------------------------------------------------------------

def test_settings_file_builds_a_sql_source_with_the_url_from_the_environment(tmp_path, shop_db, monkeypatch):
    monkeypatch.setenv("SHOP_DB_URL_TEST", f"sqlite:///{shop_db}")
    path = tmp_path / "orders.toml"
    path.write_text('[order_source]\nkind = "sql"\nurl_env = "SHOP_DB_URL_TEST"\ntimeout = 5\n'
                    f'query = """{QUERY}"""\n[order_source.mapping]\ncreated = "placed_at"\n')
    config = load_order_source_config(path)
    assert "sqlite" not in repr(config)  # the URL is a secret
    source = build_order_source(config)
    try:
        assert source.lookup(OrderKeys(order_id="1001")).created == 1772618400
    finally:
        source.close()


def test_settings_file_in_yaml_builds_an_http_source_and_a_file_source(tmp_path, shop_http):
    base, handler = shop_http
    handler.routes["/o/7"] = (200, {"id": "7", "total": "1.00", "currency": "usd"})
    (tmp_path / "http.yaml").write_text(f"kind: http\nurl: '{base}/o/{{order_id}}'\nbearer_token: s3cr3t\n")
    source = build_order_source(load_order_source_config(tmp_path / "http.yaml"))
    assert source.lookup(OrderKeys(order_id="7")).amount == 100
    assert handler.seen[-1][1]["Authorization"] == "Bearer s3cr3t"

    (tmp_path / "orders.csv").write_text("id,email\n1,a@example.com\n")
    (tmp_path / "file.yml").write_text("kind: file\npath: orders.csv\n")
    imported = build_order_source(load_order_source_config(tmp_path / "file.yml"))
    assert imported.lookup(OrderKeys(email="a@example.com")).id == "1"


def test_settings_file_mistakes_are_named(tmp_path):
    path = tmp_path / "orders.toml"
    path.write_text('kind = "sql"\nquery = "SELECT 1"\nurl = "sqlite:///x"\ntimout = 5\n')
    with pytest.raises(OrderSourceConfigError, match="timout"):
        load_order_source_config(path)
    path.write_text('kind = "ftp"\n')
    with pytest.raises(OrderSourceConfigError, match="invalid order source settings"):
        load_order_source_config(path)
    path.write_text('kind = "sql"\nurl_env = "DD_TEST_UNSET_VARIABLE"\nquery = "SELECT 1"\n')
    with pytest.raises(OrderSourceConfigError, match="DD_TEST_UNSET_VARIABLE"):
        build_order_source(load_order_source_config(path))


# --- matching ------------------------------------------------------------------------------------

def _order(**fields) -> Order:
    return Order({"currency": "usd", **fields})


def test_matching_report_says_which_rule_matched_and_what_did_not():
    source = MemoryOrderSource([
        _order(id="A", amount=2000, created=1_760_000_000),
        _order(id="B", payment_intent="pi_B", amount=2000),
        _order(id="C1", customer_email="jane@example.com", amount=5000, created=1_700_000_000),
        _order(id="C2", customer_email="jane@example.com", amount=2000, created=1_759_990_000),
        _order(id="C3", customer_email="jane@example.com", amount=2000, created=1_750_000_000),
        _order(id="D", customer_email="solo@example.com", amount=999, created=1_760_000_000),
        _order(id="E", customer_email="paid@example.com", payment_intent="pi_other"),
    ])
    charges = [
        make_charge(id="ch_meta", metadata={"shop_order": "A"}, payment_intent="pi_B"),
        make_charge(id="ch_pi", payment_intent="pi_B"),
        make_charge(id="ch_email", billing_details={"email": "Jane@Example.com"}),
        make_charge(id="ch_solo", billing_details={}, receipt_email="solo@example.com"),
        make_charge(id="ch_other", billing_details={"email": "paid@example.com"}, payment_intent="pi_mine"),
        make_charge(id="ch_none", billing_details={}, metadata={"shop_order": "ZZ"}),
    ]
    report = match_orders(charges, source, metadata_key="shop_order")
    got = {r.charge_id: (r.order.id if r.order else None, r.rule) for r in report.results}

    assert got == {"ch_meta": ("A", "metadata"), "ch_pi": ("B", "payment_intent"),
                   "ch_email": ("C2", "email"), "ch_solo": ("D", "email"),
                   "ch_other": (None, None), "ch_none": (None, None)}
    assert report.counts() == {"charges": 6, "matched": 4, "unmatched": 2, "ambiguous": 1, "errors": 0,
                               "by_metadata": 1, "by_payment_intent": 1, "by_email": 2}
    email = report.by_charge()["ch_email"]
    assert email.ambiguous and set(email.candidates) == {"C1", "C2", "C3"}
    assert "chose C2 (same amount, 3 h from the charge); others: C1, C3" in email.notes[-1]
    assert "amounts differ: order 9.99 USD, charge 20.00 USD" in report.by_charge()["ch_solo"].notes
    assert any("belong to another payment" in n for n in report.by_charge()["ch_other"].notes)
    assert "no order for metadata order id ZZ" in report.by_charge()["ch_none"].notes
    summary = report.summary()
    assert summary.startswith("4 of 6 charges matched") and "ch_none: no order" in summary


def test_matching_reports_a_failing_lookup_and_goes_on(shop_db):
    class Flaky:
        def lookup(self, keys):
            if keys.order_id == "boom":
                raise OrderSourceError("the shop is down")
            return _order(id=keys.order_id) if keys.order_id else None

    report = match_orders([make_charge(id="ch_1", metadata={"order_id": "boom"}),
                           make_charge(id="ch_2", metadata={"order_id": "ok"})], Flaky())
    assert [(r.charge_id, r.error, r.order and r.order.id) for r in report.results] == [
        ("ch_1", "the shop is down", None), ("ch_2", None, "ok")]


def test_matching_against_a_sql_source_and_a_shared_order(shop_db):
    source = SqlOrderSource(f"sqlite:///{shop_db}", QUERY)
    try:
        report = match_orders([make_charge(id="ch_1", metadata={"order_id": "1001"}),
                               make_charge(id="ch_2", payment_intent="pi_A", billing_details={})],
                              source)
    finally:
        source.close()
    assert [(r.order.id, r.rule) for r in report.results] == [("1001", "metadata"), ("1001", "payment_intent")]
    assert report.shared_orders() == {"1001": ["ch_1", "ch_2"]}
    assert json.loads(json.dumps(report.to_dict()))["counts"]["matched"] == 2
