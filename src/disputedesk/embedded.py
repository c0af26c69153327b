"""The desk on the built-in emulator: no Stripe account, no configuration.

``start_embedded_stripe`` starts the emulator in this process (a real HTTP server on loopback),
optionally seeds it with a year of realistic data, and returns settings that point the gateway
at it. ``register_webhooks`` then registers the desk's webhook endpoint with the emulator, so
the emulator signs and delivers events to the desk exactly as Stripe would. This is the one
place where the desk and its emulator meet; the emulator itself imports nothing of the desk.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from disputedesk.config import Settings

EMBEDDED_API_KEY = "sk_test_disputedesk_embedded"


@dataclass
class EmbeddedStripe:
    server: object  # disputedesk.emulator.testing.EmulatorServer
    seeded: dict | None

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def stop(self) -> None:
        self.server.stop()


def start_embedded_stripe(*, seed: int = 42, seed_data: bool = False, customers: int = 300,
                          charges: int = 3000, port: int = 0) -> EmbeddedStripe:
    from disputedesk.emulator import Emulator
    from disputedesk.emulator import seed as seeding
    from disputedesk.emulator.testing import EmulatorServer

    emulator = Emulator(seed=seed)
    server = EmulatorServer(emulator, port=port).start()
    seeded = None
    if seed_data:
        seeded = seeding.run(emulator, {"customers": customers, "charges": charges, "seed": seed})
    return EmbeddedStripe(server=server, seeded=seeded)


def settings_for(settings: Settings, stripe: EmbeddedStripe) -> Settings:
    """The same settings with the gateway pointed at the embedded emulator."""
    return settings.model_copy(update={
        "stripe_api_key": SecretStr(EMBEDDED_API_KEY),
        "stripe_api_base": stripe.base_url,
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
