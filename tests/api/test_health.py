import pytest

from clinic.celery import app as celery_app
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def test_health_answers_200_when_database_and_broker_answer(api_client):
    response = api_client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.fixture
def unreachable_broker():
    original = celery_app.conf.broker_url
    # A port nobody listens on: the real client gets a real refusal.
    celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    yield
    celery_app.conf.broker_url = original


def test_health_answers_503_naming_the_broker_when_it_is_down(api_client, unreachable_broker):
    response = api_client.get("/api/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == "ok"
    assert body["broker"].startswith("unreachable")
