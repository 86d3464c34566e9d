"""Suite-wide set-up: the embedded PostgreSQL when DATABASE_URL is unset, the suite's clock, and
live-process helpers."""

import os
import socket
import uuid
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from django.test.testcases import QuietWSGIRequestHandler

# The Chromium fixtures, shared by every test that opens a page (one browser per run).
from tests.browser_support import browser, page  # noqa: F401

# The live server answers in two writes (headers, then body) on a socket with Nagle's algorithm on;
# the client's delayed ACK then holds the body back: 44 ms a request instead of 2 on loopback.
# Gunicorn serves the real thing (`make run`, Docker) and does not stall.
QuietWSGIRequestHandler.disable_nagle_algorithm = True

if not os.environ.get("DATABASE_URL"):
    # The test runner is a command that needs the database: start the embedded server before
    # pytest-django creates the test database (settings only point at it).
    from clinic import embedded

    embedded.ensure_running()


# The day every test starts on, unless IONTO_TEST_TODAY names another: a Monday.
TEST_TODAY = "2026-12-07"
# 08:00 UTC is the same calendar day in every zone the tests use (New York 03:00, Auckland 21:00).
TEST_TIME = time(8, tzinfo=UTC)


def suite_today() -> date:
    """IONTO_TEST_TODAY (default TEST_TODAY), moved on by whole weeks to today or later.

    Why never in the past: the broker tests' Celery workers run in processes of their own on the real
    clock and do not send about a session that has started, so the sessions a test books a week or more
    after this day must lie ahead of the real clock too. Whole weeks keep the weekday chosen.
    """
    chosen = date.fromisoformat(os.environ.get("IONTO_TEST_TODAY", TEST_TODAY))
    return chosen + timedelta(weeks=max(0, -((chosen - date.today()) // timedelta(weeks=1))))


@pytest.fixture(autouse=True)
def _frozen_clock():
    """Every test starts at 08:00 UTC on the same day (``suite_today``), so dates a test derives from
    "today" (``next_weekday``, ``timezone.now()``) fall on the same weekdays whenever it runs. The clock
    then ticks, so timestamps written one after the other still differ and keep their order."""
    with time_machine.travel(datetime.combine(suite_today(), TEST_TIME), tick=True):
        yield


def server_url(database: str) -> str:
    """The URL of a database on the server the suite runs on."""
    from clinic import embedded

    parts = urlsplit(os.environ.get("DATABASE_URL") or embedded.database_url())
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def scratch_database():
    """A database of its own, made empty and dropped after the test (demo data, migration round trips)."""
    import psycopg2

    name = f"ionto_scratch_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server_url("postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield server_url(name)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Staff are made with passwords in most tests; the production hasher's cost buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _broker_ready():
    """The database broker makes its tables on first use; make them before tests start workers side by side."""
    from clinic.health import broker_check

    broker_check()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate budgets and throttles count in the cache: each test starts with none spent."""
    from django.core.cache import cache

    cache.clear()
