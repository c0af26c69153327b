"""The reports' pure rules: the networks' lines and headroom, bands, periods, charts."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from disputedesk.errors import ValidationError
from disputedesk.services.reports.facts import amount_band, completeness_band, month_of
from disputedesk.services.reports.model import Column, Table, cell_text, to_csv
from disputedesk.services.reports.monitoring import (
    ECM,
    HECM,
    VAMP_EXCESSIVE,
    _headroom,
    _status,
    crosses,
    more_needed,
)
from disputedesk.services.reports.periods import parse_account, parse_period
from disputedesk.web.pages import charts

NY = ZoneInfo("America/New_York")


def test_both_conditions_of_a_line_must_hold():
    assert crosses(ECM, 100, 6666)          # 1.50015%
    assert not crosses(ECM, 99, 1000)       # 9.9% but under 100 chargebacks
    assert not crosses(ECM, 100, 6667)      # 100 chargebacks but 1.49993%
    assert crosses(HECM, 300, 10_000) and not crosses(HECM, 300, 10_001)
    assert crosses(VAMP_EXCESSIVE, 1500, 100_000) and not crosses(VAMP_EXCESSIVE, 1500, 100_001)
    assert not crosses(VAMP_EXCESSIVE, 1500, 0)
    assert _status(320, 1500, (HECM, ECM)) == "HECM"
    assert _status(120, 1000, (HECM, ECM)) == "ECM"
    assert _status(5, 0, (HECM, ECM)) == "no sales history"


def test_headroom_names_how_many_more_put_the_merchant_over_the_next_line():
    assert more_needed(ECM, 83, 1000) == 17  # the count line is the binding one
    assert _headroom(83, 1000, (HECM, ECM), "Mastercard chargebacks") == \
        "17 more Mastercard chargebacks this month puts you in ECM"
    assert more_needed(ECM, 100, 20_000) == 200  # 1.5% of 20,000 = 300
    assert _headroom(150, 1000, (HECM, ECM), "x").endswith("puts you in HECM")
    assert more_needed(VAMP_EXCESSIVE, 1600, 50_000) == 0


def test_amount_bands_scale_with_the_currency():
    assert [amount_band(a, "usd") for a in (999, 1000, 5000, 10_000, 50_000)] == [0, 1, 2, 3, 4]
    assert [amount_band(a, "jpy") for a in (999, 1000, 50_000)] == [0, 1, 4]
    assert [amount_band(a, "kwd") for a in (9_990, 10_000, 500_000)] == [0, 1, 4]
    assert [completeness_band(s) for s in (None, 0, 49, 50, 79, 80, 100)] == [
        "none", "low", "low", "medium", "medium", "high", "high"]


def test_months_are_the_merchants():
    moment = int(dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.timezone.utc).timestamp())
    assert month_of(moment, NY) == 202602
    assert month_of(moment, ZoneInfo("UTC")) == 202603


def test_periods_are_whole_months_and_bounded():
    now = dt.datetime(2026, 6, 16, tzinfo=dt.timezone.utc).timestamp()
    assert parse_period(None, None, now=now, zone=NY).months[0] == 202507
    assert parse_period("3mo", "2026-02-10", now=now, zone=NY).months == (202512, 202601, 202602)
    assert parse_period("2025-12-31", "2026-01", now=now, zone=NY).months == (202512, 202601)
    for since, until, match in (("0mo", None, "between"), ("2026-13", None, "not a real date"),
                                ("2026-05", "2026-04", "after until"),
                                ("2000-01", None, "at most")):
        with pytest.raises(ValidationError, match=match):
            parse_period(since, until, now=now, zone=NY)
    assert parse_account("all") is None and parse_account("platform") == ""
    assert parse_account("acct_1Abc") == "acct_1Abc"
    with pytest.raises(ValidationError):
        parse_account("acct_")


def test_cells_show_money_with_its_currency_and_csv_in_major_units():
    table = Table("t", "T", [Column("currency", "Currency", "text"),
                             Column("net", "Net", "money"), Column("rate", "Rate", "percent")],
                  [{"currency": "kwd", "net": -7410, "rate": 0.0125},
                   {"currency": "jpy", "net": 1500, "rate": None}])
    assert cell_text(table.columns[1], table.rows[0]) == "-7.410 KWD"
    assert cell_text(table.columns[2], table.rows[0]) == "1.25%"
    assert cell_text(table.columns[2], table.rows[1]) == "—"
    assert to_csv(table).splitlines() == ["Currency,Net,Rate (%)", "kwd,-7.410,1.2500",
                                          "jpy,1500,"]


def test_charts_are_plain_svg_that_say_in_words_what_they_show():
    drawn = [
        charts.stacked_bars("Disputes", ["2026-01", "2026-02"],
                            [("won", "won", [3, 0]), ("lost", "lost", [1, 2])]),
        charts.hbars("Win rate", [("fraudulent", 0.25, "25%"), ("general", None, "none")]),
        charts.ratio_lines("VAMP", ["2026-01", "2026-02", "2026-03"], [0.01, None, 0.02],
                           0.015, "excessive"),
        charts.money_pairs("Money", [("jpy", 1500, "1500 JPY", 0, "0 JPY")]),
    ]
    for svg in drawn:
        root = ET.fromstring(str(svg))
        assert root.tag.endswith("svg") and root.get("role") == "img"
        assert not [e for e in root.iter() if e.tag.endswith("script")]
        assert root.find("{http://www.w3.org/2000/svg}desc").text
    desc = ET.fromstring(str(drawn[2])).find("{http://www.w3.org/2000/svg}desc").text
    assert "2026-02: no sales history" in desc and "excessive 1.5%" in desc
    assert "<b>" not in str(charts.hbars("<b>", [("<b>", 0.5, "<b>")]))  # text is escaped
