import pytest

from tests.factories import make_clinic

PASSWORD = "correct horse 42"


@pytest.fixture
def clinic():
    return make_clinic()


@pytest.fixture
def desk(client, clinic):
    """A test client signed in as the clinic's front desk."""
    client.force_login(clinic.front_desk.user)
    return client


# Queries every signed-in admin request makes whatever the page: the session, the user, their second
# factor, their permissions, and saving the session. Other middleware may add to these; the tests
# assert the page's own queries exactly and the whole request's count as unchanged by the data.
_REQUEST_TABLES = ('"django_session"', 'FROM "auth_user"', '"otp_', '"auth_permission"', '"axes_')


def page_queries(queries: list[dict]) -> list[str]:
    """The SQL a page ran for itself, without the per-request session, user and permission queries.

    ``queries`` is a CaptureQueriesContext's ``captured_queries``, taken before the next request: Django empties
    its query log when a request starts, so a context read after another request shows that one's queries."""
    own = []
    for query in queries:
        sql = query["sql"]
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) or any(table in sql for table in _REQUEST_TABLES):
            continue
        own.append(sql)
    return own
