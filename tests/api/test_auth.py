"""Tokens: POST with username and password, send as Bearer, DELETE revokes the token in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from api.models import ApiToken, IdempotencyKey
from api.services import token_issue, token_revoke
from clinic.services import two_factor_backup_codes_make, two_factor_setup_confirm, two_factor_setup_start
from tests.api.conftest import make_world
from tests.conftest import made_once
from tests.factories import code_for

pytestmark = pytest.mark.django_db


rows_made_once, world = made_once(make_world)  # the two clinics, each test rolled back to them


PASSWORD = "correct horse 42"  # tests/factories.py gives every member of staff this one


def _token(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_token_for_staff_works_as_bearer_until_revoked(world, api_client):
    response = _token(api_client, world.own.front_desk.user.username)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires_at = parse_datetime(body["expires_at"])
    assert timedelta(days=29, hours=23) < expires_at - timezone.now() <= timedelta(days=30)
    assert ApiToken.objects.get().digest != body["token"]  # only a digest is stored

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert client.get("/api/v1/patients/").status_code == 200
    assert client.delete("/api/v1/auth/token/").status_code == 204
    after = client.get("/api/v1/patients/")
    assert after.status_code == 401
    assert after.json()["detail"] == "The token is unknown, expired or revoked."


def test_wrong_password_answers_400_without_saying_which_part_is_wrong(world, api_client):
    response = _token(api_client, world.own.front_desk.user.username, password="not the password")
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["Unknown username or wrong password."]}
    assert _token(api_client, "nobody").json()["errors"] == {
        "non_field_errors": ["Unknown username or wrong password."]}


def test_an_expired_token_answers_401(world, api_client):
    token = _token(api_client, world.own.clinician.user.username).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert client.get("/api/v1/patients/").status_code == 401


def test_a_malformed_authorization_header_answers_401(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Send the header as 'Authorization: Bearer <token>'."


def test_the_schema_and_the_docs_load_nothing_from_another_site(db, api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/appointments/{id}/reschedule/" in paths
    assert paths["/api/v1/appointments/{id}/cancel/"]["post"]["responses"]["412"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    docs = api_client.get("/api/v1/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page


def test_api_prune_drops_old_idempotency_answers_and_dead_tokens(world):
    IdempotencyKey.objects.create(user=world.own.front_desk.user, key="old", fingerprint="x", status_code=201)
    IdempotencyKey.objects.create(user=world.own.front_desk.user, key="new", fingerprint="y", status_code=201)
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    revoked = token_issue(user=world.own.clinician.user)
    token_revoke(token=ApiToken.objects.get(expires_at=revoked.expires_at))
    ApiToken.objects.filter(revoked_at__isnull=False).update(revoked_at=timezone.now() - timedelta(days=2))
    out = StringIO()
    call_command("api_prune", stdout=out)
    assert out.getvalue() == "Deleted 1 idempotency answers and 1 tokens.\n"
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 0


# The second sign-in step at the token endpoint (tests/security/test_two_factor.py has the rest).

@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def _authenticator(user, clock) -> TOTPDevice:
    device = two_factor_setup_start(user=user)
    device = two_factor_setup_confirm(user=user, device=device, token=code_for(device))
    clock.shift(30)
    return device


def _token_with(client, username, otp):
    return client.post("/api/v1/auth/token/", {"username": username, "password": PASSWORD, "otp": otp},
                       format="json")


def test_a_wrong_code_counts_as_a_failed_sign_in_and_five_lock_the_account(world, api_client, clock):
    user = world.own.manager.user
    device = _authenticator(user, clock)
    answers = []
    for _ in range(5):
        answers.append(_token_with(api_client, user.username, "000000"))
        clock.shift(20)
    assert [answer.status_code for answer in answers] == [400, 400, 400, 400, 429]
    assert answers[0].json()["errors"] == {"otp": ["That code is not right; check the time on your phone and "
                                                   "try again."]}
    assert answers[4].json()["code"] == "locked_out"
    assert _token_with(api_client, user.username, code_for(device)).status_code == 429
    assert ApiToken.objects.count() == 0


def test_each_code_and_each_backup_code_gives_one_token(world, api_client, clock):
    user = world.own.clinician.user
    device = _authenticator(user, clock)
    code = code_for(device)
    assert _token_with(api_client, user.username, code).status_code == 201
    assert _token_with(api_client, user.username, code).status_code == 400  # the same code again
    clock.shift(30)
    backup = two_factor_backup_codes_make(user=user, current_code=code_for(device))[3]
    assert _token_with(api_client, user.username, backup).status_code == 201
    again = _token_with(api_client, user.username, backup)
    assert (again.status_code, list(again.json()["errors"])) == (400, ["otp"])
    assert ApiToken.objects.filter(user=user).count() == 2


def test_staff_without_an_authenticator_need_no_code(world, api_client):
    assert _token(api_client, world.own.manager.user.username).status_code == 201


def test_the_schema_declares_the_code_of_the_token_endpoint(db, api_client):
    schema = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    request = schema["components"]["schemas"]["TokenRequestRequest"]
    assert request["required"] == ["password", "username"]
    assert request["properties"]["otp"]["maxLength"] == 20
    assert "backup code" in request["properties"]["otp"]["description"]
