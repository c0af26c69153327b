"""One Settings object, read once at start-up (prefix ``DISPUTEDESK_``).

Every field is documented in docs/configuration.md; a test fails when one is not. Secrets are
``SecretStr`` so that printing the settings never shows them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from disputedesk.errors import ConfigError

# The API version the desk is written against; the gateway pins it on every call.
STRIPE_API_VERSION = "2026-10-28.endive"


def default_data_dir() -> Path:
    """The platform's user data folder (~/.local/share/disputedesk on Linux, ~/Library/Application
    Support/disputedesk on macOS): demo, serve and every command find the same desk there."""
    import platformdirs

    return Path(platformdirs.user_data_dir("disputedesk", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DISPUTEDESK_",
        env_file=None,
        extra="ignore",
        toml_file="disputedesk.toml",
    )

    # --- storage ---
    data_dir: Path = Field(
        default_factory=lambda: default_data_dir(),
        description="The desk's data folder: the SQLite file, the session key, the demo's "
        "emulator state. Default: the platform's user data folder (see `disputedesk status`).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/disputedesk.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )

    # --- Stripe ---
    stripe_api_key: SecretStr | None = Field(None, description="Secret key (sk_live_/sk_test_/rk_).")
    stripe_api_base: str | None = Field(
        None, description="Base address of Stripe's API; set to the emulator's address to use it."
    )
    stripe_account: str | None = Field(
        None, description="Connected account id (acct_...) sent as Stripe-Account, for platforms."
    )
    stripe_timeout: float = Field(30.0, description="Seconds before a Stripe request times out.")
    stripe_max_retries: int = Field(
        4, description="Retries on 429, 5xx and network errors, with exponential backoff."
    )
    stripe_rate_limit: float = Field(
        25.0, description="Most Stripe requests per second the desk sends (client-side limiter)."
    )

    # --- webhooks ---
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Webhook signing secrets (whsec_...), comma-separated; several for rotation.",
    )
    webhook_tolerance: int = Field(300, ge=1, description="Seconds a webhook timestamp may be off.")
    webhook_max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest webhook body accepted; larger answers 413."
    )
    webhook_refetch: bool = Field(
        False, description="Re-fetch each webhook's object from Stripe and apply that snapshot "
        "instead of the one in the event (trust nothing but Stripe's API; one API call per event)."
    )

    # --- worker ---
    worker_poll_interval: float = Field(0.5, description="Seconds an idle worker waits between polls.")
    worker_batch_size: int = Field(100, description="Events a worker claims at once.")
    job_max_attempts: int = Field(8, description="Attempts before a failing event or job is parked.")
    reconcile_interval: int = Field(
        3600, description="Seconds between reconciliations of open disputes and pending refunds."
    )

    # --- web ---
    host: str = Field("127.0.0.1", description="Address the web app listens on.")
    port: int = Field(8000, description="Port the web app listens on.")
    secret_key: SecretStr | None = Field(
        None, description="Key that signs session cookies; generated into data_dir when unset."
    )
    display_timezone: str = Field("UTC", description="Default time zone for showing times.")
    report_timezone: str | None = Field(
        None, description="The merchant's time zone, whose calendar months the reports count in "
        "(e.g. Europe/Paris); default: display_timezone."
    )
    metrics_token: SecretStr | None = Field(
        None, description="When set, /metrics answers only requests with this bearer token."
    )
    public_url: str | None = Field(
        None, description="Address people reach the desk at, e.g. https://desk.example.com "
        "(sign-in links; https turns on HSTS; serve warns when it is plain http)."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body for the JSON API and dashboard "
        "forms (sign-in included); larger answers 413 before anything reads it."
    )
    max_upload_bytes: int = Field(
        10_000_000, ge=1024, description="Largest evidence file or bulk refund file upload "
        "(Stripe takes 5 MB per evidence file; the margin lets the desk shrink a larger one)."
    )
    max_import_bytes: int = Field(
        50_000_000, ge=1024, description="Largest order file upload (POST /api/v1/disputes/orders/import)."
    )

    # --- refunds ---
    order_metadata_key: str = Field(
        "order_id", description="Charge metadata key that holds the merchant's order id."
    )
    approval_threshold: str | None = Field(
        None,
        description='Seeds the stored approval threshold: refunds above it need a second person, '
        'e.g. "100.00 USD"; several comma-separated, one per currency.',
    )
    approval_daily_limit: str | None = Field(
        None, description='Seeds the stored daily limit: a person\'s refunds past this total in a '
        'UTC day need approval, e.g. "500 USD".'
    )

    # --- disputes ---
    reminder_schedule: str = Field(
        "7d,72h,24h,6h",
        description="Seeds the stored reminder schedule: when to remind before evidence is due."
    )
    notify_slack_webhook_url: SecretStr | None = Field(
        None, description="Slack-compatible incoming webhook for reminders and alerts."
    )
    notify_webhook_url: SecretStr | None = Field(
        None, description="Generic webhook: reminders and alerts POSTed as JSON, signed with "
                          "DISPUTEDESK_NOTIFY_WEBHOOK_SECRET (header Disputedesk-Signature).",
    )
    notify_webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key that signs the generic webhook's body.",
    )
    smtp_host: str | None = Field(None, description="SMTP server for e-mail notifications.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS with the SMTP server.")
    notify_email_from: str | None = Field(None, description="Sender address of notifications.")
    notify_email_to: str | None = Field(None, description="Recipients of notifications, comma-separated.")

    order_source_file: Path | None = Field(
        None, description="Order source settings (TOML or YAML; see docs/order-sources.md)."
    )

    merchant_name: str | None = Field(
        None, description="The business name used in evidence text (policy disclosures, letter)."
    )
    merchant_support_email: str | None = Field(
        None, description="Customer support address quoted in evidence text."
    )
    merchant_refund_policy_url: str | None = Field(
        None, description="Where the refund policy is published, quoted in evidence text."
    )
    merchant_refund_window_days: int | None = Field(
        None, description="Days within which the refund policy allows refunds."
    )
    merchant_cancellation_policy_url: str | None = Field(
        None, description="Where the cancellation policy is published, quoted in evidence text."
    )
    merchant_policy_shown_at: str | None = Field(
        None, description='Where customers see the policies before paying, e.g. "at checkout".'
    )
    merchant_policy_shown_since: date | None = Field(
        None, description="Since when checkout shows the policies (YYYY-MM-DD); evidence states a "
                          "policy only for payments made after this date.",
    )

    # --- automation ---
    rules_file: Path | None = Field(
        None, description="Automation rules (TOML or YAML); the default rule set when unset."
    )

    # --- accounts ---
    cookie_secure: bool | None = Field(
        None, description="Mark the session cookie Secure; unset: when the request came over https."
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        # Precedence: CLI options, then DISPUTEDESK_* variables, then ./disputedesk.toml.
        toml: PydanticBaseSettingsSource = TomlConfigSettingsSource(settings_cls)
        return (init_settings, env_settings, toml)

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("report_timezone")
    @classmethod
    def _real_zone(cls, value):
        if value:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"report_timezone '{value}' is not a time zone; "
                                 "use a name such as Europe/Paris or America/New_York") from None
        return value

    @property
    def report_zone(self) -> str:
        """The zone the reports' calendar months are in."""
        return self.report_timezone or self.display_timezone or "UTC"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'disputedesk.db').resolve()}"


MASK = "********"
# Query parameters of a URL that carry credentials (libpq takes ?password=, webhooks ?token=).
_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "pass", "pwd", "secret", "token",
                                "key", "api_key", "apikey", "access_token", "sslpassword"})


def redact_url(text: str) -> str:
    """``text`` with any password in it masked: ``scheme://user:pw@host/?password=pw``.

    For every URL setting (the database URL, Stripe's base, an order source), so a password put
    in a URL is shown as safely as one put in a secret setting.
    """
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK if "@" in text else text
    if not parts.scheme or not (parts.netloc or parts.query):
        return text
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v)
                               for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def shown(value) -> str:
    """A setting's value as it may be printed: secrets masked, passwords in URLs masked."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value)
    if value is None:
        return ""
    return redact_url(value) if isinstance(value, str) else str(value)


def load_settings(**overrides) -> Settings:
    """Build the settings from the environment, with explicit overrides (CLI options) on top."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:  # pydantic's ValidationError: turn it into one readable line
        raise ConfigError(f"invalid settings: {exc}", hint="check the DISPUTEDESK_* variables") from exc
