"""Secrets never reach the logs, whoever writes the line."""

from __future__ import annotations

import logging

import pytest
import structlog

from disputedesk.log_setup import MASK, configure_logging, scrub


@pytest.fixture
def configured(capsys):
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", json_output=True)
    yield capsys
    root.handlers, root.level = saved[0], saved[1]
    structlog.reset_defaults()


def test_scrub_masks_secret_fields_by_name_and_secret_values_by_shape():
    out = scrub({
        "api_key": "anything",
        "note": "called with sk_test_51AbCdEf and whsec_abc123XYZ",
        "headers": {"Authorization": "Bearer sk_live_zzzz"},
        "url": "https://shop:hunter2@orders.example/api?x=1",
        "link": "http://127.0.0.1:8000/login/link/AbC_dEf-123",
        "amount": 1250,
    })
    assert out["api_key"] == MASK
    assert "sk_test_" not in out["note"] and "whsec_" not in out["note"]
    assert out["headers"]["Authorization"] == MASK
    assert "hunter2" not in out["url"] and "orders.example" in out["url"]
    assert "AbC_dEf-123" not in out["link"]
    assert out["amount"] == 1250


def test_structlog_lines_carry_no_secret(configured):
    structlog.get_logger().info("refund_failed", error="key sk_live_abcdef123 was refused",
                                webhook_secret="whsec_q")
    err = configured.readouterr().err
    assert "refund_failed" in err
    assert "sk_live_abcdef123" not in err and "whsec_q" not in err


def test_stdlib_loggers_are_scrubbed_too(configured):
    logging.getLogger("uvicorn.access").info(
        '127.0.0.1 - "GET /login/link/Zmwv_X19VDvb1F HTTP/1.1" 302')
    logging.getLogger("disputedesk.orders").warning(
        "order source https://user:s3cret@shop.example/orders failed with ddk_abcdefgh12345")
    err = configured.readouterr().err
    assert "/login/link/" in err and "Zmwv_X19VDvb1F" not in err
    assert "s3cret" not in err and "ddk_abcdefgh12345" not in err


def test_httpx_request_lines_which_hold_full_urls_are_not_written(configured):
    logging.getLogger("httpx").info(
        "HTTP Request: POST https://hooks.slack.com/services/T0/B0/XyZsecret \"HTTP/1.1 200 OK\"")
    assert "XyZsecret" not in configured.readouterr().err
