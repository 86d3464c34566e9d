"""Suite-wide set-up: the embedded PostgreSQL when DATABASE_URL is unset, the suite's clock, and
live-process helpers."""

import copy
import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import time_machine
from django.test.testcases import QuietWSGIRequestHandler

# The Chromium fixtures, shared by every test that opens a page (one browser per run).
from tests.browser_support import browser, page  # noqa: F401

# A real SMTP server and real Celery workers, for every test that follows a message to its reader.
from tests.delivery_support import free_port, mail, mailbox, workers  # noqa: F401

# The live server answers in two writes (headers, then body) on a socket with Nagle's algorithm on;
# the client's delayed ACK then holds the body back: 44 ms a request instead of 2 on loopback.
# Gunicorn serves the real thing (`make run`, Docker) and does not stall.
QuietWSGIRequestHandler.disable_nagle_algorithm = True

_STARTED_EMBEDDED = False
if not os.environ.get("DATABASE_URL"):
    # The test runner is a command that needs the database: start the embedded server before
    # pytest-django creates the test database (settings only point at it).
    from devtools import embedded

    _STARTED_EMBEDDED = embedded.ensure_running()

if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("CACHE_URL"):
    # Each pytest-xdist worker keeps its counts (throttles, rate budgets, the access cache) in a folder of its
    # own, which its tests empty before each test; in one shared folder the other worker's tests would spend
    # them and empty them. The environment carries it to the processes a test starts (Celery workers, `make
    # run`), as one folder serves all processes of an installation. pytest-django has read the settings already.
    from django.conf import settings

    from clinic.settings import DATA_DIR, cache_settings

    os.environ["CACHE_URL"] = f"file://{DATA_DIR / 'cache' / os.environ['PYTEST_XDIST_WORKER']}"
    settings.CACHES = cache_settings(os.environ["CACHE_URL"])


# The files whose tests take longest (15 s or more), slowest first: seconds of a serial run with --durations=0 on
# the shared 2-core machine (docs/operations.md, "How long it takes"). The rest, 14 s or less each, follow.
SLOWEST_FILES = (
    "tests/api/test_schemathesis.py",  # 109
    "tests/bench/test_bench_quick.py",  # 92
    "tests/scheduling/test_availability_properties.py",  # 87
    "tests/scheduling/test_tasks.py",  # 67
    "tests/clinic/test_production_venv.py",  # 62
    "tests/clinic/test_serve.py",  # 55
    "tests/test_migrations.py",  # 50
    "tests/api/test_query_counts.py",  # 41
    "tests/browser/test_calendar.py",  # 38
    "tests/scheduling/test_notifications.py",  # 37
    "tests/scheduling/test_maintenance_due.py",  # 31
    "tests/scheduling/test_demo.py",  # 26
    "tests/browser/test_selfservice.py",  # 24
    "tests/bench/test_bench_reminders.py",  # 21
    "tests/clinic/test_broker.py",  # 21
    "tests/scheduling/test_demo_evening.py",  # 20
    "tests/clinic/test_settings.py",  # 19
    "tests/scheduling/test_progress_views.py",  # 18
    "tests/browser/test_front_desk.py",  # 18
    "tests/scheduling/test_check_ins_walk.py",  # 17
    "tests/scheduling/test_concurrency.py",  # 16
    "tests/browser/test_waitlist.py",  # 15
    "tests/api/test_role_matrix.py",  # 15
    "tests/admin/test_appointment_list.py",  # 15
)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`, `--dist loadfile --no-loadscope-reorder`) the slowest files start first,
    so the run does not end with one process on a long file while the other has nothing left. A serial run keeps
    pytest-django's order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {path: place for place, path in enumerate(SLOWEST_FILES)}
        items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


def pytest_unconfigure(config):
    """`make test` leaves nothing running: the embedded server stops again if this run started it
    (one that `make run` or an earlier command started is left as it was)."""
    if _STARTED_EMBEDDED:
        from devtools import embedded

        embedded.stop()


# The day every test starts on, unless IONTO_TEST_TODAY names another: a Monday.
TEST_TODAY = "2026-12-07"
# 08:00 UTC is the same calendar day in every zone the tests use (New York 03:00, Auckland 21:00).
TEST_TIME = time(8, tzinfo=UTC)
# How far the suite's clock stays ahead of the real one: longer than any run takes.
REAL_CLOCK_LEAD = timedelta(days=1)


def _suite_today(real_now: datetime) -> date:
    """IONTO_TEST_TODAY (default TEST_TODAY), moved on by whole weeks until its 08:00 UTC lies at least
    REAL_CLOCK_LEAD after ``real_now``.

    Why ahead of the real clock: processes a test starts run on the real clock, not the test's. The broker
    tests' Celery workers do not send about a session that has started and stamp a send's start with the
    later of the claim and their own time; a subprocess reads the shared cache with expiries the test wrote.
    A suite that ran at 08:00 on the real day would see those go wrong after a few minutes. Whole weeks keep
    the weekday chosen.
    """
    chosen = date.fromisoformat(os.environ.get("IONTO_TEST_TODAY", TEST_TODAY))
    behind = real_now + REAL_CLOCK_LEAD - datetime.combine(chosen, TEST_TIME)
    return chosen + timedelta(weeks=max(0, -(-behind // timedelta(weeks=1))))


# Read once, from the real clock, before any test moves it.
SUITE_TODAY = _suite_today(datetime.now(UTC))


def suite_today() -> date:
    """The day every test starts on (``_suite_today``), the same for the whole run of this process."""
    return SUITE_TODAY


@pytest.fixture(autouse=True)
def _frozen_clock():
    """Every test starts at 08:00 UTC on the same day (``suite_today``), so dates a test derives from
    "today" (``next_weekday``, ``timezone.now()``) fall on the same weekdays whenever it runs. The clock
    then ticks, so timestamps written one after the other still differ and keep their order."""
    with time_machine.travel(datetime.combine(suite_today(), TEST_TIME), tick=True):
        yield


def made_once_for_module(django_db_blocker, make):
    """A module fixture's rows, made once and rolled back after the module: pytest's form of Django's
    ``TestCase.setUpTestData``. ``make()`` runs in a transaction left open while the module's tests run;
    each test's own transaction is then a savepoint inside it, so every test starts from the rows as made.
    Made a minute before the tests' clock (the same day in every zone the tests use), so they precede each
    test's "now". Only for modules whose tests are not transactional (a flush would empty them). Tests
    take a copy of what ``make()`` returns (``copy.deepcopy``), as setUpTestData gives each test its own."""
    from django.db import transaction
    from django.test import override_settings

    outer = transaction.atomic()
    with django_db_blocker.unblock():
        outer.__enter__()
        try:
            with (time_machine.travel(datetime.combine(suite_today(), TEST_TIME) - timedelta(minutes=1), tick=True),
                  override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS)):
                made = make()
        except BaseException as error:
            outer.__exit__(type(error), error, error.__traceback__)
            raise
    yield made
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


def made_once(make):
    """The two fixtures of a module whose rows are made once (``made_once_for_module``), bound in the module as
    ``rows_made_once, clinic = made_once(make_clinic)``: ``clinic`` is each test's own copy of what ``make()``
    returned (``copy.deepcopy``), the test rolled back to the rows as made. Only for a module none of whose
    tests is transactional."""

    @pytest.fixture(scope="module", name="rows_made_once")
    def once(django_db_setup, django_db_blocker):
        yield from made_once_for_module(django_db_blocker, make)

    @pytest.fixture
    def each(rows_made_once, db):
        return copy.deepcopy(rows_made_once)

    return once, each


def server_url(database: str, runtime: bool = False) -> str:
    """The URL of a database on the server the suite runs on, as the owner or as the runtime role."""
    from devtools import embedded

    parts = urlsplit(os.environ.get("DATABASE_URL") or embedded.database_url())
    if runtime:
        user, password = runtime_login()
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{quote(user)}{':' + quote(password) if password else ''}@{host}")
    return urlunsplit(parts._replace(path=f"/{database}"))


def runtime_login() -> tuple[str, str]:
    """The runtime role's name and password: DATABASE_RUNTIME_URL's, else the embedded server's role."""
    import dj_database_url
    from django.conf import settings

    from devtools import embedded

    if not settings.DATABASE_RUNTIME_URL:
        return embedded.RUNTIME_USER, ""
    login = dj_database_url.parse(settings.DATABASE_RUNTIME_URL)
    return login["USER"], login["PASSWORD"]


_OWNER: list[str] = []  # the login the settings gave: the owner of the test database


def _log_in(user: str, password: str) -> None:
    """Point the default connection (every thread's: they share its settings) at another login."""
    from django.db import connection

    connection.close()
    connection.settings_dict.update(USER=user, PASSWORD=password)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django made and migrated the test database as the owner (DATABASE_URL's login); the tests
    then run as the runtime role, as web, worker and beat do."""
    from django.db import connection

    from clinic.database_roles import runtime_role_grant

    owner = connection.settings_dict["USER"], connection.settings_dict["PASSWORD"]
    user, password = runtime_login()
    with django_db_blocker.unblock():
        runtime_role_grant(role=user, password=password)
    _OWNER[:] = owner
    _audit_truncate_trigger("ENABLE")  # a reused test database may have kept it off
    _log_in(user, password)
    yield
    _log_in(*owner)


def _flushes_after(item) -> bool:
    """pytest-django's rule for a test that ends with a flush (TRUNCATE of every table), not a rollback."""
    marker = item.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")):
        return True
    return bool({"transactional_db", "live_server", "django_db_reset_sequences"} & set(item.fixturenames))


def _audit_truncate_trigger(action: str) -> None:
    import psycopg2
    from django.db import connection

    db = connection.settings_dict
    conn = psycopg2.connect(dbname=db["NAME"], user=_OWNER[0], password=_OWNER[1], host=db["HOST"] or None,
                            port=db["PORT"] or None)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"ALTER TABLE patients_auditevent {action} TRIGGER patients_auditevent_no_truncate")
    finally:
        conn.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """The flush after a transactional test is the owner's: the runtime role may not TRUNCATE, and the
    audit trail refuses TRUNCATE to everyone until its owner turns that trigger off."""
    if not (_OWNER and _flushes_after(item)):
        return (yield)
    _log_in(*_OWNER)
    _audit_truncate_trigger("DISABLE")
    try:
        return (yield)
    finally:
        if nextitem is not None:  # else the test database is gone with the session
            _audit_truncate_trigger("ENABLE")
            _log_in(*runtime_login())


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


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Staff are made with passwords in most tests; the production hasher's cost buys nothing here."""
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


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
