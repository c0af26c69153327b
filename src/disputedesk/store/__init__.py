"""Storage: SQLAlchemy tables, Alembic migrations, and small repositories.

``Store`` opens transactions (``store.write()`` / ``store.read()``); the modules ``inbox``,
``mirror``, ``jobs`` and ``audit`` hold the queries, each a small function taking a connection.
"""

from disputedesk.store.engine import Store, make_engine
from disputedesk.store.migrate import is_current, migrate

__all__ = ["Store", "make_engine", "migrate", "is_current"]
