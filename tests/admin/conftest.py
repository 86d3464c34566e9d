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
