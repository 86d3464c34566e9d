"""The broker Ionto uses when CELERY_BROKER_URL is unset: its own PostgreSQL, through kombu.

It is kombu's SQLAlchemy transport with two changes: it looks for new tasks every 0.1 s instead
of every second (the stock interval caps each worker process at about one task a second), and
processes that start together on a fresh database may both create its tables or the same queue
row: the loser of that race reads what the winner made instead of crashing. It is registered
under the URL scheme ``ionto-db+postgresql+psycopg2://...``.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as SQLAlchemyChannel
from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport
from sqlalchemy.exc import IntegrityError, ProgrammingError

SCHEME = "ionto-db"


class DatabaseChannel(SQLAlchemyChannel):
    def _open(self):
        try:
            return super()._open()
        except (IntegrityError, ProgrammingError):
            # Another process created the tables at the same moment; they exist now.
            return super()._open()

    def _get_or_create(self, queue):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:
            # Another process inserted this queue's row between our look and our insert.
            self.session.rollback()
            return self.session.query(self.queue_cls).filter(self.queue_cls.name == queue).one()


class DatabaseTransport(SQLAlchemyTransport):
    Channel = DatabaseChannel
    polling_interval = 0.1


def register() -> None:
    TRANSPORT_ALIASES.setdefault(SCHEME, "clinic.broker:DatabaseTransport")
