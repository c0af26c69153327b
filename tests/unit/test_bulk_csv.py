"""Bulk refund files: every problem reported at once, good files parsed, stable row keys, results."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputedesk.domain.bulk import (
    BulkFileInvalid,
    BulkResult,
    parse_bulk_csv,
    read_result_csv,
    result_csv,
    row_key,
    write_result_csv,
)
from disputedesk.domain.refunds import RequestedAmount
from disputedesk.errors import ValidationError

GOOD = (
    "charge,payment_intent,order_id,amount,reason,note,metadata.ticket\r\n"
    "ch_1,,,full,requested_by_customer,damaged,T-1\r\n"
    ",pi_2,,12.50 EUR,duplicate,,\r\n"
    ",,A-1003,1500 JPY,,,T-3\r\n"
    "\r\n"
    "ch_4,,,1.230 KWD,Requested by customer,\"note, with comma\",\r\n"
)


def problems_of(text, **kw):
    return [(p.row, p.column, p.code) for p in parse_bulk_csv(text, **kw).problems]


def test_a_good_file_is_parsed_row_by_row():
    bulk = parse_bulk_csv(GOOD.encode())
    assert bulk.ok and bulk.problems == ()
    assert bulk.delimiter == ","
    assert [(r.row, r.target_type, r.target) for r in bulk.rows] == [
        (2, "charge", "ch_1"), (3, "payment_intent", "pi_2"), (4, "order_id", "A-1003"),
        (6, "charge", "ch_4")]  # row 5 is blank: skipped but counted
    first, second, third, fourth = bulk.rows
    assert first.amount == RequestedAmount(full=True)
    assert (first.reason, first.note, dict(first.metadata)) == (
        "requested_by_customer", "damaged", {"ticket": "T-1"})
    assert second.amount == RequestedAmount(False, Decimal("12.50"), "eur")
    assert dict(second.metadata) == {}  # an empty cell sets nothing
    assert third.amount == RequestedAmount(False, Decimal("1500"), "jpy")
    assert (fourth.reason, fourth.note) == ("requested_by_customer", "note, with comma")
    bulk.raise_for_problems()  # does not raise


def test_semicolon_files_with_a_bom_and_spaced_headers_are_read():
    text = "\ufeffCharge;Amount;Payment Intent\nch_1;12.50;\n;full;pi_2\n"
    bulk = parse_bulk_csv(text.encode("utf-8"))
    assert bulk.ok, [str(p) for p in bulk.problems]
    assert bulk.delimiter == ";"
    assert bulk.columns == ("charge", "amount", "payment_intent")
    assert bulk.rows[0].amount == RequestedAmount(False, Decimal("12.50"), None)


def test_many_different_bad_rows_are_reported_together():
    text = (
        "charge;payment_intent;order_id;amount;reason;metadata.ticket\n"
        "ch_1;;;12,50;;\n"                        # 2: comma decimal
        ";;;10;;\n"                               # 3: no target
        "ch_3;pi_3;;10;;\n"                       # 4: two targets
        "ch_4;;;;;\n"                             # 5: no amount
        "ch_5;;;-3;;\n"                           # 6: negative
        "ch_6;;;10;angry;\n"                      # 7: bad reason
        "ch_1;;;5;;\n"                            # 8: duplicate of row 2
        "pi_9;;;5;;\n"                            # 9: pi in charge column
        "ch_10;;;12.5 JPY;;\n"                    # 10: decimals JPY cannot hold
        "ch 11;;;5;;\n"                           # 11: space in id
        f"ch_12;;;5;;{'x' * 501}\n"               # 12: metadata too long
        "ch_13;;;5;;;extra\n"                     # 13: more values than columns
        "ch_14;;;5 EUR USD;;\n"                   # 14: two currencies
    )
    assert problems_of(text) == [
        (2, "amount", "invalid_amount"),
        (3, "charge|payment_intent|order_id", "missing_target"),
        (4, "charge|payment_intent", "several_targets"),
        (5, "amount", "invalid_amount"),
        (6, "amount", "amount_not_positive"),
        (7, "reason", "invalid_reason"),
        (8, "charge", "duplicate_target"),
        (9, "charge", "wrong_id_column"),
        (10, "amount", "invalid_amount"),
        (11, "charge", "invalid_id"),
        (12, "metadata.ticket", "metadata_too_long"),
        (13, None, "too_many_values"),
        (14, "amount", "invalid_amount"),
    ]


def test_each_problem_says_what_is_wrong_and_how_to_fix_it():
    text = "charge,amount,reason\nch_1,\"12,50\",\nch_1,5,angry\n"
    bulk = parse_bulk_csv(text)
    lines = [str(p) for p in bulk.problems]
    assert lines == [
        "row 2, amount: '12,50' uses a comma as the decimal separator (write it with a dot: 12.50)",
        "row 3, charge: charge ch_1 is also on row 2 "
        "(one row per payment: put the total to refund on one row)",
        "row 3, reason: 'angry' is not a refund reason "
        "(use duplicate, fraudulent, requested_by_customer or leave it empty)",
    ]
    with pytest.raises(BulkFileInvalid, match="3 problems; nothing was refunded") as info:
        bulk.raise_for_problems()
    assert isinstance(info.value, ValidationError)
    assert info.value.to_dict()["problems"][0] == {
        "row": 2, "column": "amount", "message": "'12,50' uses a comma as the decimal separator",
        "fix": "write it with a dot: 12.50", "code": "invalid_amount"}


def test_header_problems_are_reported_with_row_problems():
    text = "chrge,amout,payment_intent,metadata,metadata.disputedesk_x,reason,reason\n,5,,,,,\n"
    assert problems_of(text) == [
        (1, "chrge", "unknown_column"),
        (1, "amout", "unknown_column"),
        (1, "metadata", "unknown_column"),
        (1, "metadata.disputedesk_x", "bad_metadata_column"),
        (1, "reason", "duplicate_column"),
        (1, "amount", "missing_column"),
        (2, "charge|payment_intent|order_id", "missing_target"),
        (2, "amount", "invalid_amount"),
    ]
    fixes = [p.fix for p in parse_bulk_csv(text).problems[:3]]
    assert fixes[:2] == ["did you mean 'charge'?", "did you mean 'amount'?"]
    assert fixes[2] == "use columns named metadata.<key>, e.g. metadata.ticket"


def test_a_file_without_a_target_column_is_refused():
    assert problems_of("amount\n5\n")[0] == (1, None, "missing_column")


def test_values_in_a_column_without_a_name_are_reported_but_empty_ones_are_fine():
    assert parse_bulk_csv("charge,amount,\nch_1,5,\n").ok
    assert problems_of("charge,amount,\nch_1,5,oops\n") == [(2, "column 3", "unnamed_column")]


@pytest.mark.parametrize(("data", "code", "message"), [
    (b"", "empty_file", "the file is empty"),
    (b"charge,amount\n\n", "empty_file", "header but no refund rows"),
    ("charge,amount\nch_1,5\n".encode("utf-16"), "encoding", "UTF-16"),
    (b"charge,amount\nch_\xe9,5\n", "encoding", "not UTF-8 (byte 18, on line 2)"),
    (b"charge,amount\nch_1,\"5\n", "malformed_csv", "cannot be read after line 2"),
])
def test_file_level_problems(data, code, message):
    problems = parse_bulk_csv(data).problems
    assert [p.code for p in problems] == [code]
    assert message in problems[0].message


def test_the_row_limit_is_reported_once():
    text = "charge,amount\n" + "".join(f"ch_{i},1\n" for i in range(12))
    bulk = parse_bulk_csv(text, max_rows=10)
    assert [(p.code, p.message) for p in bulk.problems] == [
        ("too_many_rows", "the file has 12 refund rows; at most 10 are allowed in one file")]


# --- stable row keys ---------------------------------------------------------------------------------

def test_row_keys_come_from_each_rows_own_content():
    bulk = parse_bulk_csv(GOOD)
    assert [r.key for r in bulk.rows] == [row_key(r) for r in bulk.rows]
    assert all(len(r.key) == len("bulk-") + 40 for r in bulk.rows)
    assert len({r.key for r in bulk.rows}) == len(bulk.rows)


RESAVED = (
    "\ufeffmetadata.ticket;amount;reason;charge;payment_intent;order_id;note\n"
    "T-1;full;requested_by_customer;ch_1;;;damaged\n"
    ";12.5 EUR;duplicate;;pi_2;;\n"
    "T-3;1500 JPY;;;;A-1003;\n"
    "\n"
    ";1.23 KWD;requested_by_customer;ch_4;;;note, with comma\n"
).replace("\n", "\r\n")


def test_row_keys_and_the_file_hash_survive_resaving_the_file_in_another_shape():
    assert parse_bulk_csv(RESAVED).file_hash == parse_bulk_csv(GOOD).file_hash
    assert [r.key for r in parse_bulk_csv(RESAVED).rows] == [r.key for r in parse_bulk_csv(GOOD).rows]


def test_editing_one_row_changes_only_that_rows_key_and_the_file_hash():
    before = parse_bulk_csv(GOOD)
    changed = parse_bulk_csv(GOOD.replace("12.50 EUR", "12.60 EUR"))
    assert changed.file_hash != before.file_hash
    same = [a.key == b.key for a, b in zip(before.rows, changed.rows)]
    assert same == [True, False, True, True]


def test_moving_rows_or_changing_note_and_metadata_keeps_the_row_keys():
    before = parse_bulk_csv(GOOD)
    shifted = parse_bulk_csv(GOOD.replace("\r\n\r\n", "\r\n"))  # row numbers move
    assert shifted.file_hash != before.file_hash
    assert [r.key for r in shifted.rows] == [r.key for r in before.rows]
    renoted = parse_bulk_csv(GOOD.replace("damaged", "broken").replace("T-1", "T-9"))
    assert [r.key for r in renoted.rows] == [r.key for r in before.rows]


def test_the_amount_currency_and_reason_are_part_of_the_row_key():
    base = parse_bulk_csv("charge,amount,reason\nch_1,10.00,\n").rows[0].key
    for line in ("ch_1,10.01,", "ch_1,10.00 EUR,", "ch_1,full,", "ch_1,10.00,duplicate",
                 "ch_2,10.00,"):
        assert parse_bulk_csv(f"charge,amount,reason\n{line}\n").rows[0].key != base, line
    assert parse_bulk_csv("charge,amount,reason\nch_1,10,\n").rows[0].key == base


def test_a_salt_gives_a_run_its_own_keys():
    row = parse_bulk_csv(GOOD).rows[0]
    assert row_key(row, "bulk_job1") != row_key(row) != row_key(row, "bulk_job2")
    assert row_key(row, "bulk_job1") == row_key(row, "bulk_job1")


# --- the result file -----------------------------------------------------------------------------------

def test_result_csv_round_trips():
    results = [
        BulkResult(3, None, "failed", "charge ch_3 is disputed (du_1, status needs_response)"),
        BulkResult(2, "re_1", "succeeded"),
        BulkResult(4, "re_2", "pending", None),
        BulkResult(5, None, "awaiting_approval", "needs approval: 200.00 USD is above, \"quoted\""),
    ]
    text = result_csv(results)
    assert text.splitlines()[0] == "row,refund_id,status,error"
    assert read_result_csv(text) == sorted(results, key=lambda r: r.row)


def test_result_csv_neutralises_spreadsheet_formulas():
    text = result_csv([BulkResult(2, None, "failed", "=HYPERLINK(\"http://x\")")])
    assert read_result_csv(text)[0].error == "'=HYPERLINK(\"http://x\")"


def test_write_result_csv_counts_rows_written_to_a_stream():
    buffer = io.StringIO(newline="")
    assert write_result_csv([BulkResult(2, "re_1", "succeeded")], buffer) == 1
    assert buffer.getvalue() == "row,refund_id,status,error\r\n2,re_1,succeeded,\r\n"


def test_read_result_csv_refuses_another_file():
    with pytest.raises(ValidationError, match="not a disputedesk result file"):
        read_result_csv(GOOD)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=20).filter(
    lambda s: not s.startswith(("=", "+", "-", "@", "\t", "\r"))), st.text(max_size=40)),
    max_size=10))
def test_any_status_and_error_text_survive_the_round_trip(pairs):
    results = [BulkResult(i + 2, f"re_{i}", status, error or None)
               for i, (status, error) in enumerate(pairs)
               if not (error or "").startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert read_result_csv(result_csv(results)) == results
