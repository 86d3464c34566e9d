import pytest

from clinic.celery import app as celery_app
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def test_health_answers_200_when_database_and_broker_answer(api_client):
    response = api_client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_health_answers_every_one_of_many_checks_in_a_row(api_client):
    """A load balancer asks every few seconds from one address: no check may use up a connection
    pool or a rate limit, so the hundredth answers like the first."""
    answers = [api_client.get("/api/v1/health/") for _ in range(150)]
    assert [answer.status_code for answer in answers] == [200] * 150


def _new_broker_pool():
    """The app holds the pool of the URL it was first asked for; a test that changes the URL lets it
    find the pool of the new one (kombu keeps one pool per URL), as Celery itself does after a fork."""
    celery_app._pool = None


@pytest.fixture
def unreachable_broker():
    original = celery_app.conf.broker_url
    # A port nobody listens on: the real client gets a real refusal.
    celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    _new_broker_pool()
    yield
    celery_app.conf.broker_url = original
    _new_broker_pool()


def test_health_answers_503_naming_the_broker_when_it_is_down(api_client, unreachable_broker):
    response = api_client.get("/api/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == "ok"
    assert body["broker"].startswith("unreachable")
