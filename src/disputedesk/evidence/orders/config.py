"""The order source's settings: a small TOML or YAML file whose path the caller gives.

::

    # orders.toml
    kind = "sql"                       # "file", "sql" or "http"
    url_env = "SHOP_DATABASE_URL"      # or url = "postgresql+psycopg://reader:...@db/shop"
    query = "SELECT ... WHERE o.number = :order_id OR o.payment_intent_id = :payment_intent"
    timeout = 5
    default_currency = "usd"
    [mapping]                          # order field = column (SQL, CSV) or dotted path (HTTP JSON)
    customer_email = "buyer_email"

The settings may also sit under an ``[order_source]`` table. Secrets (the SQL URL, the bearer
token, header values) can be given directly or, better, as ``*_env``: the name of an
environment variable holding them. They are ``SecretStr`` and never printed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from disputedesk.evidence.orders.errors import OrderSourceConfigError
from disputedesk.evidence.orders.fields import AMOUNT_UNITS, check_mapping


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, str] = Field(default_factory=dict,
                                    description="order field -> column or dotted JSON path")
    amount_unit: Literal["auto", "minor", "major"] = "auto"
    default_currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$")

    @model_validator(mode="after")
    def _mapping_ok(self):  # type: ignore[no-untyped-def]
        try:
            check_mapping(self.mapping)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self


def _from_env(value: SecretStr | None, env: str | None, what: str) -> SecretStr | None:
    if value is not None:
        return value
    if env:
        if not os.environ.get(env):
            raise OrderSourceConfigError(f"the environment variable {env} ({what}) is not set",
                                         param=what, hint=f"export {env}=...")
        return SecretStr(os.environ[env])
    return None


class FileSourceConfig(_Common):
    kind: Literal["file"]
    path: Path
    format: Literal["csv", "json", "jsonl"] | None = None


class SqlSourceConfig(_Common):
    kind: Literal["sql"]
    url: SecretStr | None = None
    url_env: str | None = None
    query: str
    timeout: float = Field(10.0, gt=0, le=300)
    max_rows: int = Field(50, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_url(self):  # type: ignore[no-untyped-def]
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self

    def resolved_url(self) -> SecretStr:
        url = _from_env(self.url, self.url_env, "url")
        if url is None:  # excluded by the validator; kept for type checkers
            raise OrderSourceConfigError("no SQL URL", param="url")
        return url


class HttpSourceConfig(_Common):
    kind: Literal["http"]
    url: str | list[str]
    bearer_token: SecretStr | None = None
    bearer_token_env: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict, description="header -> env variable")
    orders_path: str | None = None
    timeout: float = Field(10.0, gt=0, le=300)

    def resolved_headers(self) -> dict[str, SecretStr]:
        out = dict(self.headers)
        for name, env in self.headers_env.items():
            secret = _from_env(None, env, f"header {name}")
            if secret is not None:
                out[name] = secret
        return out


OrderSourceConfig = Annotated[FileSourceConfig | SqlSourceConfig | HttpSourceConfig,
                              Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(OrderSourceConfig)


def parse_order_source_config(data: Mapping[str, Any], *, base_dir: Path | None = None):
    """Validate a settings mapping; relative file paths are read from ``base_dir``."""
    if "order_source" in data and isinstance(data["order_source"], Mapping):
        data = data["order_source"]
    if "kind" not in data:
        raise OrderSourceConfigError("the order source settings have no kind", param="kind",
                                     hint='set kind = "file", "sql" or "http"')
    try:
        config = _ADAPTER.validate_python(dict(data))
    except PydanticValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise OrderSourceConfigError(f"invalid order source settings: {problems}",
                                     hint="see docs/order-sources.md") from None
    if isinstance(config, FileSourceConfig) and base_dir is not None and not config.path.is_absolute():
        config = config.model_copy(update={"path": base_dir / config.path})
    return config


def load_order_source_config(path: str | Path):
    """Read the settings from a ``.toml``, ``.yaml`` or ``.yml`` file."""
    path = Path(path)
    if not path.is_file():
        raise OrderSourceConfigError(f"no order source settings file at {path}", param="path",
                                     hint="check DISPUTEDESK_ORDER_SOURCE_FILE")
    text = path.read_text("utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise OrderSourceConfigError(f"{path.name}: unknown settings format", param="path",
                                         hint="use a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise OrderSourceConfigError(f"{path.name} cannot be read: {exc}", param="path") from None
    if not isinstance(data, Mapping):
        raise OrderSourceConfigError(f"{path.name} does not hold a table of settings", param="path")
    return parse_order_source_config(data, base_dir=path.parent)


def build_order_source(config):  # type: ignore[no-untyped-def]
    """The source the settings describe. A file source is read at once (all or nothing)."""
    from disputedesk.evidence.orders.file_import import parse_orders_file
    from disputedesk.evidence.orders.http_source import HttpOrderSource
    from disputedesk.evidence.orders.model import MemoryOrderSource
    from disputedesk.evidence.orders.sql_source import SqlOrderSource

    common = {"mapping": config.mapping, "amount_unit": config.amount_unit,
              "default_currency": config.default_currency}
    if isinstance(config, FileSourceConfig):
        result = parse_orders_file(config.path, config.format, **common)
        result.raise_for_problems()
        return MemoryOrderSource(result.orders)
    if isinstance(config, SqlSourceConfig):
        return SqlOrderSource(config.resolved_url(), config.query, timeout=config.timeout,
                              max_rows=config.max_rows, **common)
    token = _from_env(config.bearer_token, config.bearer_token_env, "bearer_token")
    return HttpOrderSource(config.url, bearer_token=token, headers=config.resolved_headers(),
                           orders_path=config.orders_path, timeout=config.timeout, **common)


__all__ = ["AMOUNT_UNITS", "FileSourceConfig", "HttpSourceConfig", "OrderSourceConfig", "SqlSourceConfig",
           "build_order_source", "load_order_source_config", "parse_order_source_config"]
