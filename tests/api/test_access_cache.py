"""The token lookup and the user's locations come from the shared cache, and every change of who may
see what takes effect on the very next request (clinic.selectors.access_cached)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import ApiToken
from api.services import token_revoke
from clinic import services as clinic_services
from tests.api.conftest import bearer_client

pytestmark = pytest.mark.django_db


def _rooms(client) -> set[int]:
    response = client.get("/api/v1/rooms/", {"page_size": 100})
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_a_second_request_reads_neither_the_token_nor_the_locations(world):
    client = bearer_client(world.own.front_desk.user)
    _rooms(client)
    with CaptureQueriesContext(connection) as queries:
        _rooms(client)
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "api_apitoken" not in tables and "clinic_staff_locations" not in tables


def test_a_revoked_token_stops_working_at_once(world):
    client = bearer_client(world.own.front_desk.user)
    assert client.get("/api/v1/rooms/").status_code == 200
    token_revoke(token=ApiToken.objects.get(user=world.own.front_desk.user))
    response = client.get("/api/v1/rooms/")
    assert response.status_code == 401
    assert response.json()["detail"] == "The token is unknown, expired or revoked."


def test_a_deleted_token_stops_working_at_once(world):
    client = bearer_client(world.own.front_desk.user)
    assert client.get("/api/v1/rooms/").status_code == 200
    ApiToken.objects.get(user=world.own.front_desk.user).delete()
    assert client.get("/api/v1/rooms/").status_code == 401


def test_a_cached_token_still_expires(world):
    client = bearer_client(world.own.front_desk.user)
    assert client.get("/api/v1/rooms/").status_code == 200
    token = ApiToken.objects.get(user=world.own.front_desk.user)
    # Within the cache's lifetime of the entry: the expiry is checked on the cached row itself.
    with time_machine.travel(token.expires_at + timedelta(seconds=1), tick=False):
        assert client.get("/api/v1/rooms/").status_code == 401


def test_a_deactivated_user_or_member_of_staff_is_refused_at_once(world):
    desk = world.own.front_desk
    client = bearer_client(desk.user)
    assert client.get("/api/v1/rooms/").status_code == 200
    desk.is_active = False
    desk.save()
    assert client.get("/api/v1/rooms/").status_code == 403
    desk.is_active = True
    desk.save()
    assert client.get("/api/v1/rooms/").status_code == 200
    desk.user.is_active = False
    desk.user.save()
    assert client.get("/api/v1/rooms/").status_code == 401


def test_a_change_of_role_counts_at_once(world):
    desk = world.own.front_desk
    client = bearer_client(desk.user)
    assert client.get("/api/v1/session-records/").status_code == 403
    desk.role = "clinician"
    desk.save()
    assert client.get("/api/v1/session-records/").status_code == 200


def test_a_change_of_locations_counts_at_once(world):
    desk = world.own.front_desk
    client = bearer_client(desk.user)
    own_rooms = {room.pk for room in world.own.rooms}
    other_rooms = {room.pk for room in world.other.rooms}
    assert _rooms(client) == own_rooms
    desk.locations.add(world.other.location)
    assert _rooms(client) == own_rooms | other_rooms
    desk.locations.remove(world.own.location)
    assert _rooms(client) == other_rooms


def test_a_new_location_is_a_managers_at_once(world):
    client = bearer_client(world.own.manager.user)
    before = _rooms(client)
    location = clinic_services.location_create(name="Eastside", address="3 Road", phone="0",
                                               time_zone="Europe/London")
    room = clinic_services.room_create(location=location, name="East 1")
    assert _rooms(client) == before | {room.pk}


def test_a_sign_in_elsewhere_keeps_the_cache(world, api_client):
    """Saving only ``last_login`` (every sign-in does) changes nothing a request reads for access."""
    client = bearer_client(world.own.front_desk.user)
    _rooms(client)
    world.own.front_desk.user.last_login = timezone.now()
    world.own.front_desk.user.save(update_fields=["last_login"])
    with CaptureQueriesContext(connection) as queries:
        _rooms(client)
    assert "api_apitoken" not in " ".join(query["sql"] for query in queries.captured_queries)
