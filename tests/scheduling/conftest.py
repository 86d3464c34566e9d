"""Fixtures the scheduling tests share: a clinic made through the services and next week's Monday."""

import pytest

from tests.conftest import made_once_for_module
from tests.factories import make_clinic, next_weekday


@pytest.fixture
def clinic():
    return make_clinic()


@pytest.fixture(scope="module")
def clinic_once(django_db_setup, django_db_blocker):
    """make_clinic() once for a module none of whose tests is transactional: such a module overrides ``clinic``
    with ``copy.deepcopy(clinic_once)`` and each test rolls back to it (tests.conftest.made_once_for_module)."""
    yield from made_once_for_module(django_db_blocker, make_clinic)


@pytest.fixture
def monday():
    return next_weekday(0)
