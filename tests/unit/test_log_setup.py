"""Secrets never reach the logs."""

from __future__ import annotations

import structlog

from disputedesk.log_setup import MASK, configure_logging, scrub


def test_scrub_masks_secret_fields_by_name_and_secret_values_by_shape():
    out = scrub({
        "api_key": "anything",
        "note": "called with sk_test_51AbCdEf and whsec_abc123XYZ",
        "headers": {"Authorization": "Bearer sk_live_zzzz"},
        "amount": 1250,
    })
    assert out["api_key"] == MASK
    assert "sk_test_" not in out["note"] and "whsec_" not in out["note"]
    assert out["headers"]["Authorization"] == MASK
    assert out["amount"] == 1250


def test_configured_logger_writes_no_secret(capsys):
    configure_logging("INFO", json_output=True)
    structlog.get_logger().info("refund_failed", error="key sk_live_abcdef123 was refused",
                                webhook_secret="whsec_q")
    err = capsys.readouterr().err
    assert "refund_failed" in err
    assert "sk_live_abcdef123" not in err and "whsec_q" not in err
