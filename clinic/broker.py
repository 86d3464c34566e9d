"""The broker Ionto uses when CELERY_BROKER_URL is unset: its own PostgreSQL, through kombu.

It is kombu's SQLAlchemy transport with one change: it looks for new tasks every 0.1 s instead
of every second (the stock interval caps each worker process at about one task a second). It is
registered under the URL scheme ``ionto-db+postgresql+psycopg2://...``.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport

SCHEME = "ionto-db"


class DatabaseTransport(SQLAlchemyTransport):
    polling_interval = 0.1


def register() -> None:
    TRANSPORT_ALIASES.setdefault(SCHEME, "clinic.broker:DatabaseTransport")
