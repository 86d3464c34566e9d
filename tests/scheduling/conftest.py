"""Fixtures the scheduling tests share: a clinic made through the services and next week's Monday."""

import pytest

from tests.factories import make_clinic, next_weekday


@pytest.fixture
def clinic():
    return make_clinic()


@pytest.fixture
def monday():
    return next_weekday(0)
