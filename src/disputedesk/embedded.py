"""The desk on the built-in emulator: no Stripe account, no configuration.

``start_embedded_stripe`` starts the emulator in this process (a real HTTP server on loopback),
optionally seeds it with a year of realistic data, and returns settings that point the gateway
at it. ``register_webhooks`` then registers the desk's webhook endpoint with the emulator, so
the emulator signs and delivers events to the desk exactly as Stripe would. This is the one
place where the desk and its emulator meet; the emulator itself imports nothing of the desk.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from disputedesk.config import Settings

EMBEDDED_API_KEY = "sk_test_disputedesk_embedded"
# In the data folder while a demo runs: where its emulator listens, so that every other command
# started with the same data folder talks to the same Stripe.
RUNNING_FILE = "demo-running.json"
# The demo's emulator state, saved while it runs and on stop, loaded on the next start.
STATE_FILE = "demo-stripe.pickle"
SAVE_EVERY_SECONDS = 30.0


@dataclass
class EmbeddedStripe:
    server: object  # disputedesk.emulator.testing.EmulatorServer
    seeded: dict | None
    state_file: Path | None = None
    restored: bool = False
    _stop_saving: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def emulator(self):
        return self.server.emulator

    def save(self) -> None:
        if self.state_file is not None:
            from disputedesk.emulator import snapshot

            snapshot.save(self.emulator, self.state_file)

    def keep_saving(self, every: float = SAVE_EVERY_SECONDS) -> None:
        """Save the state every ``every`` seconds, so a killed demo loses little."""
        def loop() -> None:
            while not self._stop_saving.wait(every):
                self.save()

        threading.Thread(target=loop, name="demo-stripe-saver", daemon=True).start()

    def stop(self) -> None:
        self._stop_saving.set()
        self.save()
        self.server.stop()


def start_embedded_stripe(*, seed: int = 42, seed_data: bool = False, customers: int = 300,
                          charges: int = 3000, port: int = 0,
                          state_file: Path | None = None) -> EmbeddedStripe:
    """Start the emulator; with ``state_file``, load the state saved there if any (else seed)."""
    from disputedesk.emulator import Emulator
    from disputedesk.emulator import seed as seeding
    from disputedesk.emulator import snapshot
    from disputedesk.emulator.testing import EmulatorServer

    emulator = Emulator(seed=seed)
    restored = state_file is not None and state_file.exists() and snapshot.load(emulator,
                                                                                state_file)
    server = EmulatorServer(emulator, port=port).start()
    seeded = None
    if seed_data and not restored:
        seeded = seeding.run(emulator, {"customers": customers, "charges": charges, "seed": seed})
    return EmbeddedStripe(server=server, seeded=seeded, state_file=state_file, restored=restored)


def settings_for(settings: Settings, stripe: EmbeddedStripe | str) -> Settings:
    """The same settings with the gateway pointed at the embedded emulator (or its address)."""
    base_url = stripe if isinstance(stripe, str) else stripe.base_url
    return settings.model_copy(update={
        "stripe_api_key": SecretStr(EMBEDDED_API_KEY),
        "stripe_api_base": base_url,
        "stripe_account": None,
        # The emulator has no rate limit of its own; keep sync fast.
        "stripe_rate_limit": max(settings.stripe_rate_limit, 500.0),
    })


def register_webhooks(settings: Settings, desk_url: str) -> Settings:
    """Register ``desk_url``/webhooks/stripe for every event; returns settings with its secret."""
    from disputedesk.stripe_api.gateway import StripeGateway

    endpoint = StripeGateway(settings).create_webhook_endpoint(
        f"{desk_url.rstrip('/')}/webhooks/stripe", ["*"])
    secrets = [SecretStr(endpoint["secret"]), *settings.webhook_secrets]
    return settings.model_copy(update={"webhook_secrets": secrets})


def mark_running(settings: Settings, stripe: EmbeddedStripe, desk_url: str) -> Path:
    """Say in the data folder that a demo runs here, with its emulator's address."""
    path = settings.data_dir / RUNNING_FILE
    path.write_text(json.dumps({"pid": os.getpid(), "stripe_api_base": stripe.base_url,
                                "desk_url": desk_url}), encoding="utf-8")
    return path


def running_demo(settings: Settings) -> dict | None:
    """The demo running on this data folder (its emulator's address), or None."""
    path = settings.data_dir / RUNNING_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left behind by a demo that was killed
    except PermissionError:
        pass  # alive, another user's
    return info


def with_running_demo(settings: Settings) -> Settings:
    """Point a command at the demo's emulator when a demo runs on the same data folder and no
    Stripe is configured: the CLI beside the demo is the same desk, Stripe included."""
    if settings.stripe_api_key is not None or settings.stripe_api_base is not None \
            or settings.database_url is not None:
        return settings
    info = running_demo(settings)
    if info is None:
        return settings
    return settings_for(settings, str(info["stripe_api_base"]))


def forget_webhook_endpoints(stripe: EmbeddedStripe, desk_url: str) -> int:
    """Drop the endpoints an earlier run registered for this desk (it registers a new one)."""
    from disputedesk.emulator import snapshot

    return snapshot.forget_webhook_endpoints(stripe.emulator,
                                             f"{desk_url.rstrip('/')}/webhooks/stripe")
