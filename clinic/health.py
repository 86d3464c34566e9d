"""Whether the parts Ionto needs answer: the database and the Celery broker."""

from __future__ import annotations

import logging

from django.db import connection

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 3


def database_check() -> str | None:
    """None when the database answers, else what went wrong."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "down" to a health check
        logger.warning("health: database unreachable: %s", error)
        return f"unreachable ({type(error).__name__})"
    return None


def broker_check() -> str | None:
    """None when the broker accepts a connection and knows the default queue.

    The connection comes from Celery's own pool and goes back to it: a new connection a check left
    the database transport's sessions open, and a load balancer's checks soon used up its pool.
    A connection that failed is closed before it goes back, so the next check starts afresh.
    """
    from clinic.celery import app

    connection = app.pool.acquire(block=True, timeout=BROKER_TIMEOUT_SECONDS)
    try:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        connection.default_channel.queue_declare(queue=app.conf.task_default_queue, passive=False)
    except Exception as error:  # any transport error means "down" to a health check
        logger.warning("health: broker unreachable: %s", error)
        connection.collect()
        return f"unreachable ({type(error).__name__})"
    finally:
        connection.release()
    return None


def health_status() -> dict[str, str]:
    """Each part's state: "ok" or why it is down."""
    return {
        "database": database_check() or "ok",
        "broker": broker_check() or "ok",
    }
