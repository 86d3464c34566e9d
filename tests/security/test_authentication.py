"""Logins: lockout after repeated failures, idle sessions ending, strict passwords."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from tests.factories import make_clinic

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse 42"


def admin_login(client: Client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_fifth_failed_login_locks_the_account_for_the_cool_off():
    clinic = make_clinic()
    username = clinic.front_desk.user.username
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(4):
        assert admin_login(client, username, "wrong password").status_code == 200  # the form again
    locked = admin_login(client, username, "wrong password")
    assert locked.status_code == 429
    assert locked.content.decode().startswith("Too many failed sign-ins.")
    # Even the right password is refused now, and from another address too (per account).
    assert admin_login(client, username, PASSWORD).status_code == 429
    assert admin_login(Client(REMOTE_ADDR="198.51.100.9"), username, PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert admin_login(Client(REMOTE_ADDR="198.51.100.9"), username, PASSWORD).status_code == 302


def test_many_accounts_guessed_from_one_address_lock_that_address():
    clinic = make_clinic()
    client = Client(REMOTE_ADDR="203.0.113.8")
    for i in range(5):
        admin_login(client, f"nobody{i}", "guess")
    assert admin_login(client, clinic.manager.user.username, PASSWORD).status_code == 429
    assert admin_login(Client(REMOTE_ADDR="203.0.113.99"), clinic.manager.user.username, PASSWORD).status_code == 302


def test_token_endpoint_locks_out_too(api_client):
    clinic = make_clinic()
    username = clinic.clinician.user.username
    for _ in range(5):
        api_client.post("/api/v1/auth/token/", {"username": username, "password": "nope"}, format="json")
    refused = api_client.post("/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json")
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "Too many failed sign-ins. Try again in 15 minutes, or ask a manager to unlock the account.",
        "code": "locked_out", "errors": {},
    }


def test_an_idle_session_ends_after_30_minutes():
    clinic = make_clinic()
    client = Client()
    client.force_login(clinic.front_desk.user)
    assert client.get("/admin/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=29)):
        assert client.get("/admin/").status_code == 200  # activity renews the session
    with time_machine.travel(timezone.now() + timedelta(minutes=29 + 31)):
        response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("weak", ["short1", "password1234", "123456789012", "frontdesk1234"])
def test_weak_passwords_are_refused(weak):
    from django.contrib.auth import get_user_model

    user = get_user_model()(username="frontdesk1234")
    with pytest.raises(ValidationError):
        validate_password(weak, user)
    validate_password("plaster-ocean-violin-87", user)
