"""Order import from CSV, JSON and JSON lines: good rows become normalised orders, every bad row
is reported at once with its row, column and fix."""

from __future__ import annotations

import json

import pytest

from disputedesk.evidence.composer import compose_evidence
from disputedesk.evidence.orders import (
    ImportResult,
    Order,
    OrderDataError,
    OrderImportError,
    OrderSourceConfigError,
    parse_orders_file,
)
from disputedesk.testing import make_charge, make_dispute

GOOD_CSV = (
    "Order #,E-mail,Total,Currency,Created At,Shipping Address 1,Shipping City,Shipping Zip,"
    "Shipping Country,Carrier,Tracking,Shipped At,Payment Intent ID,Notes\n"
    "1001,Jane.Doe@Example.COM,45.50,EUR,2026-03-04T10:00:00Z,1 Rue de Rivoli,Paris,75001,fr,"
    "DHL,JD0146 JD0147,2026-03-05,pi_3Ab,gift\n"
    "1002,sam@example.com,\"1,200.00\",usd,1772700000,5 Main St,Springfield,62701,US,UPS,"
    "1Z999,2026-03-06T08:00:00+01:00,,\n"
)


def _problems(result: ImportResult) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in result.problems]


def test_csv_import_reads_common_column_names_and_normalises_values():
    result = parse_orders_file(GOOD_CSV.encode())

    assert result.ok, result.summary()
    assert result.format == "csv" and result.rows == 2
    first, second = result.orders
    assert first.to_dict() == {
        "id": "1001", "customer_email": "jane.doe@example.com", "amount": 4550, "currency": "eur",
        "created": 1772618400, "payment_intent": "pi_3Ab",
        "shipping": {"address": {"line1": "1 Rue de Rivoli", "city": "Paris", "postal_code": "75001",
                                 "country": "FR"},
                     "carrier": "DHL", "tracking_number": ["JD0146", "JD0147"], "shipped_at": 1772668800},
    }
    assert second.amount == 120000 and second.currency == "usd"
    assert second.created == 1772700000
    assert second["shipping"]["shipped_at"] == 1772780400  # +01:00 converted to UTC
    assert result.ignored_columns == ["Notes"]


def test_csv_import_reports_every_bad_row_with_its_column_and_a_fix(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,email,amount,currency,order_date,ip\n"
        "A1,ok@example.com,10.00,usd,2026-01-02,203.0.113.7\n"
        "A2,not-an-email,10.00,usd,2026-01-02,203.0.113.7\n"
        "A3,x@example.com,ten,usd,yesterday,300.1.1.1\n"
        ",y@example.com,10.00,usd,2026-01-02,\n"
        "A5,z@example.com,10.00,usd,1772618400000,\n"
    )
    result = parse_orders_file(path)

    assert [o.id for o in result.orders] == ["A1"]
    assert _problems(result) == [(3, "email"), (4, "amount"), (4, "order_date"), (4, "ip"),
                                 (5, None), (6, "order_date")]
    by_cell = {(p.row, p.column): p for p in result.problems}
    assert "not an email address" in by_cell[(3, "email")].message
    assert "jane@example.com" in by_cell[(3, "email")].hint
    assert "milliseconds" in by_cell[(6, "order_date")].message
    assert "no order id" in by_cell[(5, None)].message
    assert "row 4, column 'ip': '300.1.1.1' is not an IP address" in result.summary()


def test_raise_for_problems_lists_all_problems_and_imports_nothing():
    result = parse_orders_file(b"id,email\n1,a\n2,b\n", "csv")
    with pytest.raises(OrderImportError) as caught:
        result.raise_for_problems()
    assert len(caught.value.problems) == 2
    assert "row 2" in str(caught.value) and "row 3" in str(caught.value)


def test_duplicate_order_ids_are_reported_on_the_later_row():
    result = parse_orders_file(b"id,total,currency\n7,1.00,usd\n8,2.00,usd\n7,3.00,usd\n")
    assert [o.id for o in result.orders] == ["7", "8"]
    assert [(p.row, p.message) for p in result.problems] == [(4, "order id '7' is also on row 2")]


def test_a_file_without_an_order_id_column_is_reported_once():
    result = parse_orders_file(b"email,total,currency\na@example.com,1.00,usd\nb@example.com,2.00,usd\n")
    assert _problems(result) == [(1, None)]
    assert "no order id column" in result.problems[0].message


def test_whole_number_amounts_are_reported_once_as_ambiguous_until_the_unit_is_set():
    data = b"id,amount,currency\n1,4500,usd\n2,990,usd\n"
    ambiguous = parse_orders_file(data)
    assert [(p.column, "cents or whole units" in p.message) for p in ambiguous.problems] == [("amount", True)]

    assert [o.amount for o in parse_orders_file(data, amount_unit="minor").orders] == [4500, 990]
    assert [o.amount for o in parse_orders_file(data, amount_unit="major").orders] == [450000, 99000]
    # Zero-decimal currencies have no ambiguity.
    assert [o.amount for o in parse_orders_file(b"id,amount,currency\n1,4500,jpy\n").orders] == [4500]


def test_amounts_with_a_decimal_comma_or_too_many_decimals_are_refused():
    result = parse_orders_file(b"id,amount,currency\n1,\"12,50\",eur\n2,1.234,usd\n3,12.5 EUR,usd\n")
    messages = [p.message for p in result.problems]
    assert "not a thousands separator" in messages[0]
    assert "more decimals than USD allows" in messages[1]
    assert "is in EUR but the order's currency is USD" in messages[2]


def test_amount_without_currency_uses_the_default_currency():
    assert parse_orders_file(b"id,total\n1,9.99\n").problems[0].message.endswith("has no currency")
    order = parse_orders_file(b"id,total\n1,9.99\n", default_currency="USD").orders[0]
    assert (order.amount, order.currency) == (999, "usd")


def test_semicolon_separated_csv_with_a_byte_order_mark_is_read():
    data = "\ufeffid;email;total;currency\n1;a@example.com;3.10;eur\n".encode()
    result = parse_orders_file(data)
    assert result.ok and result.orders[0].to_dict()["amount"] == 310


def test_a_mapping_reads_columns_with_unusual_names():
    data = b"Ref,Buyer,Grand (incl. VAT),Cur\nX9,Jo@Example.com,20.00,GBP\n"
    result = parse_orders_file(data, mapping={"id": "Ref", "customer_email": "Buyer",
                                              "amount": "Grand (incl. VAT)", "currency": "Cur"})
    assert result.ok, result.summary()
    assert result.orders[0].to_dict() == {"id": "X9", "customer_email": "jo@example.com", "amount": 2000,
                                          "currency": "gbp"}


def test_a_mapping_to_a_missing_column_or_an_unknown_field_is_refused():
    result = parse_orders_file(b"id,email\n1,a@example.com\n", mapping={"customer_email": "Mail"})
    assert "has no such column" in result.problems[0].message and "id, email" in result.problems[0].hint
    with pytest.raises(OrderSourceConfigError, match="unknown order fields"):
        parse_orders_file(b"id\n1\n", mapping={"favourite_colour": "id"})


def test_two_columns_with_different_values_for_one_field_are_reported():
    result = parse_orders_file(b"id,email,customer_email\n1,a@example.com,b@example.com\n")
    assert "both 'email' and 'customer_email' give customer_email" in result.problems[0].message


def test_rows_with_extra_cells_and_duplicate_headers_are_reported():
    result = parse_orders_file(b"id,email,email\n1,a@example.com,a@example.com\n2,b@example.com,,extra\n")
    assert (1, "email") in _problems(result)
    assert any(p.row == 3 and "4 cells" in p.message for p in result.problems)


def test_a_file_that_is_not_utf8_is_reported_with_how_to_fix_it():
    result = parse_orders_file("id,name\n1,Zoë\n".encode("latin-1"))
    assert not result.orders and "not UTF-8" in result.problems[0].message
    assert "UTF-8" in result.problems[0].hint


def test_json_array_with_nested_orders_in_the_composer_format_is_read(tmp_path):
    orders = [
        {"id": 1, "customer": {"email": "A@B.CO", "name": "Ann"}, "amount": 1999, "currency": "usd",
         "created": "2026-03-04T10:00:00Z", "product_type": "digital",
         "items": [{"name": "E-book", "quantity": 1}],
         "access_log": [{"at": "2026-03-04T10:05:00Z", "ip": "203.0.113.7", "action": "download"}],
         "customer_contacted_support": "no", "refund_refusal_explanation": "Downloaded twice."},
        {"id": "2", "customer_email": "c@d.co", "amount": "12.00", "currency": "usd",
         "shipping": {"address": {"line1": "1 Main", "city": "X", "country": "us"},
                      "tracking_number": "1Z", "delivered_at": 1772700000}},
    ]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": orders}))
    result = parse_orders_file(path)

    assert result.ok, result.summary()
    one, two = result.orders
    assert one.to_dict() == {
        "id": "1", "customer_email": "a@b.co", "customer_name": "Ann", "amount": 1999, "currency": "usd",
        "created": 1772618400, "product_type": "digital_goods", "items": [{"name": "E-book", "quantity": 1}],
        "access_log": [{"at": 1772618700, "ip": "203.0.113.7", "action": "download"}],
        "customer_contacted_support": False, "refund_refusal_explanation": "Downloaded twice.",
    }
    assert two.amount == 1200
    assert two["shipping"] == {"address": {"line1": "1 Main", "city": "X", "country": "US"},
                               "tracking_number": "1Z", "delivered_at": 1772700000}


def test_json_lines_report_each_bad_line():
    data = (b'{"id": "1", "email": "a@example.com"}\n'
            b'not json\n'
            b'[1, 2]\n'
            b'{"id": "4", "items": [{"quantity": 2}]}\n')
    result = parse_orders_file(data)
    assert result.format == "jsonl"
    assert [o.id for o in result.orders] == ["1"]
    assert [(p.unit, p.row) for p in result.problems] == [("line", 2), ("line", 3), ("line", 4)]
    assert "item 1 has no name" in result.problems[2].message


def test_broken_json_is_reported_with_its_line_and_column():
    result = parse_orders_file(b'[\n {"id": 1},\n {"id": 2,}\n]', "json")
    assert result.problems[0].row == 3 and "line 3" in result.problems[0].message


def test_an_unknown_format_or_missing_file_is_a_configuration_error(tmp_path):
    with pytest.raises(OrderSourceConfigError, match="unknown order file format"):
        parse_orders_file(b"id\n1\n", "xlsx")
    with pytest.raises(OrderSourceConfigError, match="no order file"):
        parse_orders_file(tmp_path / "missing.csv")


def test_an_empty_file_is_reported():
    assert parse_orders_file(b"  \n", "csv").problems[0].message == "the file is empty"


def test_order_is_built_only_from_valid_data_and_round_trips():
    order = Order({"order_number": 5, "email": "X@Y.ZZ", "total": "3.00", "currency": "usd"})
    assert Order(order.to_dict()) == order
    assert order == {"id": "5", "customer_email": "x@y.zz", "amount": 300, "currency": "usd"}
    with pytest.raises(OrderDataError) as caught:
        Order({"id": "5", "payment_intent": "ch_123"})
    assert caught.value.problems[0].field == "payment_intent"
    assert "pi_" in caught.value.problems[0].hint


def test_an_imported_order_feeds_the_evidence_composer():
    data = (b"id,email,customer_name,ip,carrier,tracking_number,shipped_at,shipping_line1,shipping_city,"
            b"shipping_country,product_description\n"
            b"1001,JANE@EXAMPLE.COM,Jane Doe,203.0.113.7,UPS,1Z999,2026-03-05,1 Main St,Springfield,us,"
            b"Blue mug\n")
    order = parse_orders_file(data).orders[0]
    charge = make_charge(id="ch_1", metadata={"order_id": "1001"})
    evidence = compose_evidence(make_dispute(charge="ch_1", reason="product_not_received"), charge,
                                order=order)
    assert evidence.fields["customer_email_address"] == "jane@example.com"
    assert evidence.fields["shipping_tracking_number"] == "1Z999"
    assert evidence.fields["shipping_date"] == "March 5, 2026"
    assert evidence.fields["shipping_address"] == "1 Main St, Springfield, US"
    assert evidence.sources["shipping_carrier"] == "order"


def test_every_order_field_is_documented():
    from pathlib import Path

    from disputedesk.evidence.orders.fields import BASE_FIELDS

    text = (Path(__file__).resolve().parents[2] / "docs" / "order-sources.md").read_text()
    missing = [f.name for f in BASE_FIELDS
               if f"`{f.name}`" not in text and f.name not in ("shipping_line2", "shipping_city",
                                                                "shipping_state", "shipping_postal_code")]
    assert not missing, f"document these order fields in docs/order-sources.md: {missing}"
