"""The merchant's order data sources: the facts that win disputes. See docs/order-sources.md.

- :mod:`.model`        :class:`Order` (the composer's order dict, normalised), :class:`OrderKeys`,
                       the :class:`OrderSource` protocol and an in-memory source
- :mod:`.fields`       order fields, the common column names, value conversion
- :mod:`.file_import`  CSV / JSON / JSON-lines import reporting every problem at once
- :mod:`.sql_guard`    the static read-only check of an order query
- :mod:`.sql_source`   a read-only query against the merchant's database
- :mod:`.http_source`  the merchant's HTTP endpoint returning an order as JSON
- :mod:`.matching`     charge -> order by metadata order id, payment intent, then email
- :mod:`.config`       the source's settings file (TOML/YAML) and building the source
"""

from disputedesk.evidence.orders.config import (
    FileSourceConfig,
    HttpSourceConfig,
    OrderSourceConfig,
    SqlSourceConfig,
    build_order_source,
    load_order_source_config,
    parse_order_source_config,
)
from disputedesk.evidence.orders.errors import (
    OrderDataError,
    OrderImportError,
    OrderSourceConfigError,
    OrderSourceError,
    WriteQueryRefused,
)
from disputedesk.evidence.orders.fields import FIELDS, FieldProblem
from disputedesk.evidence.orders.file_import import (
    ImportProblem,
    ImportResult,
    parse_orders_file,
)
from disputedesk.evidence.orders.http_source import HttpOrderSource
from disputedesk.evidence.orders.matching import (
    ChargeMatch,
    MatchReport,
    match_charge,
    match_orders,
)
from disputedesk.evidence.orders.model import (
    MemoryOrderSource,
    Order,
    OrderKeys,
    OrderSource,
)
from disputedesk.evidence.orders.sql_guard import check_read_only
from disputedesk.evidence.orders.sql_source import SqlOrderSource, mask_url

__all__ = [
    "FIELDS", "ChargeMatch", "FieldProblem", "FileSourceConfig", "HttpOrderSource", "HttpSourceConfig",
    "ImportProblem", "ImportResult", "MatchReport", "MemoryOrderSource", "Order", "OrderDataError",
    "OrderImportError", "OrderKeys", "OrderSource", "OrderSourceConfig", "OrderSourceConfigError",
    "OrderSourceError", "SqlOrderSource", "SqlSourceConfig", "WriteQueryRefused", "build_order_source",
    "check_read_only", "load_order_source_config", "mask_url", "match_charge", "match_orders",
    "parse_order_source_config", "parse_orders_file",
]
