"""Runs inside dj-stripe's own virtualenv (see test_djstripe.py); talks JSON lines on stdio.

Start: migrate the SQLite database, register a dj-stripe webhook endpoint on the emulator
(as dj-stripe's admin does: ``WebhookEndpoint._api_create`` then ``sync_from_stripe_data``),
serve Django's WSGI app on a free 127.0.0.1 port in a thread, print ``{"ready": ...}``.
Then each stdin line is a command: ``{"cmd": "sync", "models": [...]}`` runs
``djstripe_sync_models``; ``{"cmd": "dump"}`` prints the stored rows; ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import uuid
from contextlib import redirect_stdout
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djstripe_site.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def reply(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def serve() -> tuple[WSGIServer, int]:
    # one request at a time: SQLite has one writer, and the emulator waits for each answer
    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def register_endpoint(port: int) -> dict[str, object]:
    from djstripe.models import WebhookEndpoint

    djstripe_uuid = uuid.uuid4()
    data = WebhookEndpoint._api_create(
        url=f"http://127.0.0.1:{port}/stripe/webhook/{djstripe_uuid}/",
        enabled_events=["*"], metadata={"djstripe_uuid": str(djstripe_uuid)})
    endpoint = WebhookEndpoint.sync_from_stripe_data(data)
    assert str(endpoint.djstripe_uuid) == str(djstripe_uuid) and endpoint.secret
    return {"id": endpoint.id, "url": endpoint.url}


def _id(value: object) -> object:
    return getattr(value, "id", value)


def dump() -> dict[str, object]:
    """Each stored row: the model's own columns dj-stripe fills, and its ``stripe_data``."""
    from djstripe import models as m

    def rows(model: type, fields: tuple[str, ...]) -> list[dict[str, object]]:
        return [{"id": obj.id, **{f: _id(getattr(obj, f)) for f in fields},
                 "stripe_data": obj.stripe_data} for obj in model.objects.all()]

    return {
        "charges": rows(m.Charge, ("amount", "currency", "status", "customer",
                                   "payment_intent", "payment_method", "balance_transaction")),
        "refunds": rows(m.Refund, ("amount", "currency", "charge", "balance_transaction")),
        "disputes": rows(m.Dispute, ("charge", "payment_intent", "balance_transaction")),
        "customers": rows(m.Customer, ("email", "name")),
        "payment_intents": rows(m.PaymentIntent, ("customer", "payment_method")),
        "payment_methods": rows(m.PaymentMethod, ("customer",)),
        "accounts": [a.id for a in m.Account.objects.all()],
        "events": [{"id": e.id, "type": e.type} for e in m.Event.objects.all()],
        "triggers": [{"valid": t.valid, "processed": t.processed, "exception": t.exception,
                      "event": _id(t.event)} for t in m.WebhookEventTrigger.objects.all()],
    }


def main() -> None:
    call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
    server, port = serve()
    reply({"ready": True, "port": port, "endpoint": register_endpoint(port)})
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "sync":
            out = io.StringIO()
            try:
                with redirect_stdout(out):
                    call_command("djstripe_sync_models", *command["models"], fail_on_error=True)
                reply({"ok": True, "output": out.getvalue()})
            except BaseException as exc:  # report, keep serving
                reply({"ok": False, "error": repr(exc), "output": out.getvalue()})
        elif command["cmd"] == "dump":
            reply(dump())
        elif command["cmd"] == "quit":
            break
    server.shutdown()


if __name__ == "__main__":
    main()
