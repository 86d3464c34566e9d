"""Two clinics, staff of every role at the first, and API clients that sign in with real tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from api.services import token_issue
from tests.factories import book, make_clinic, make_course, next_weekday


@dataclass
class World:
    own: object  # tests.factories.Clinic the staff work at
    other: object  # a second clinic none of them works at

    def staff(self, role: str):
        return {"front_desk": self.own.front_desk, "clinician": self.own.clinician,
                "manager": self.own.manager}[role]


def bearer_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user).token}")
    return client


def make_world() -> World:
    return World(own=make_clinic(name="Northside"), other=make_clinic(name="Southside"))


@pytest.fixture
def world(db) -> World:
    return make_world()


@pytest.fixture
def as_role(world):
    """``as_role("front_desk")``: an API client signed in with a token of that role at the own clinic."""
    clients = {}

    def client_for(role: str) -> APIClient:
        if role not in clients:
            clients[role] = bearer_client(world.staff(role).user)
        return clients[role]

    return client_for


@dataclass
class Booked:
    course: object
    appointment: object


def booked_session(clinic, *, weekday: int = 0, hour: int = 10, weeks_ahead: int = 1) -> Booked:
    course = make_course(clinic)
    appointment = book(clinic, course, clinic.at(next_weekday(weekday, weeks_ahead=weeks_ahead), hour))
    return Booked(course=course, appointment=appointment)
