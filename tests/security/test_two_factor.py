"""The second sign-in step: required for managers where configured, optional for other staff, owed by
every entry point until passed, never changed with the password alone, and backed by single-use codes.

The clock is frozen: a TOTP code depends on the time (django_otp reads time.time()), each code works
once, and a wrong one makes the device wait a second before the next try; tests step the clock on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from api.authentication import SECOND_STEP_OWED
from api.urls import router
from clinic import services
from tests.factories import code_for, make_clinic

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse 42"
ROLES = ("front_desk", "clinician", "manager")


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def with_authenticator(user, clock) -> TOTPDevice:
    device = services.two_factor_setup_start(user=user)
    device = services.two_factor_setup_confirm(user=user, device=device, token=code_for(device))
    clock.shift(30)  # the app shows its next code
    return device


def signed_in(user) -> Client:
    """A browser that typed the password at the admin's sign-in and nothing more."""
    client = Client()
    assert client.post("/admin/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def verified(user, code: str) -> Client:
    client = signed_in(user)
    response = client.post("/account/2fa/verify/", {"token": code, "next": "/admin/"})
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    return client


def log_of(user) -> list[tuple[int, str, str]]:
    return [(entry.action_flag, entry.content_type.model, entry.change_message)
            for entry in LogEntry.objects.filter(user=user).order_by("id")]


def test_a_manager_must_set_up_the_second_step_before_any_admin_page(settings, clock):
    settings.IONTO_MANAGER_2FA_REQUIRED = True
    manager = make_clinic().manager.user
    client = signed_in(manager)
    response = client.get("/admin/")
    assert (response.status_code, response["Location"]) == (302, "/account/2fa/setup/?next=/admin/")
    page = client.get("/account/2fa/setup/?next=/admin/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=manager, confirmed=False)
    wrong = client.post("/account/2fa/setup/", {"token": "000000", "next": "/admin/"})
    assert "That code is not right" in wrong.content.decode()
    clock.shift(1)
    confirmed = client.post("/account/2fa/setup/", {"token": code_for(device), "next": "/admin/"})
    assert (confirmed.status_code, confirmed["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert log_of(manager) == [(ADDITION, "totpdevice", "Authenticator app added.")]


def test_staff_with_an_authenticator_pass_the_second_step_at_every_sign_in(clock):
    desk = make_clinic().front_desk.user
    device = with_authenticator(desk, clock)
    client = signed_in(desk)
    response = client.get("/admin/")
    assert response["Location"] == "/account/2fa/verify/?next=/admin/"
    assert "That code is not right" in client.post("/account/2fa/verify/", {"token": "123456"}).content.decode()
    assert client.get("/admin/").status_code == 302
    clock.shift(1)  # a failure slows the next try
    client.post("/account/2fa/verify/", {"token": code_for(device), "next": "/admin/"})
    assert client.get("/admin/").status_code == 200


def test_staff_without_an_authenticator_and_not_managers_sign_in_with_the_password(settings):
    settings.IONTO_MANAGER_2FA_REQUIRED = True
    desk = make_clinic().front_desk.user
    assert signed_in(desk).get("/admin/").status_code == 200


def test_the_next_address_cannot_send_the_user_elsewhere(clock):
    desk = make_clinic().front_desk.user
    device = with_authenticator(desk, clock)
    client = signed_in(desk)
    response = client.post("/account/2fa/verify/", {"token": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


# Entry points x (second step done, second step owed). Owed: the pages send the user to the code, the
# API refuses the session, and the token endpoint refuses a request without the code.
DONE = {
    "admin": {"front_desk": 200, "clinician": 200, "manager": 200},
    "clinician pages": {"front_desk": 403, "clinician": 200, "manager": 200},
    "API by session": {"front_desk": 200, "clinician": 200, "manager": 200},
}
PATHS = {"admin": "/admin/", "clinician pages": "/clinician/", "API by session": "/api/v1/patients/"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("entry", list(PATHS))
def test_each_entry_point_takes_a_session_only_after_the_second_step(clock, role, entry):
    user = getattr(make_clinic(), role).user
    device = with_authenticator(user, clock)
    owed = signed_in(user).get(PATHS[entry])
    if entry == "API by session":
        assert (owed.status_code, owed.json()["detail"]) == (403, SECOND_STEP_OWED)
    else:
        assert (owed.status_code, owed["Location"]) == (302, f"/account/2fa/verify/?next={PATHS[entry]}")
    assert verified(user, code_for(device)).get(PATHS[entry]).status_code == DONE[entry][role]


@pytest.mark.parametrize("role", ROLES)
def test_a_token_is_issued_only_with_the_code_and_then_works_alone(clock, role):
    user = getattr(make_clinic(), role).user
    device = with_authenticator(user, clock)
    client = Client()
    asked = {"username": user.username, "password": PASSWORD}
    refused = client.post("/api/v1/auth/token/", asked, content_type="application/json")
    assert (refused.status_code, refused.json()["errors"]) == (400, {"otp": [
        "This account signs in with a second step: send the code from the authenticator app, "
        "or a backup code, as 'otp'."]})
    issued = client.post("/api/v1/auth/token/", {**asked, "otp": code_for(device)}, content_type="application/json")
    assert issued.status_code == 201
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {issued.json()['token']}")
    assert bearer.get("/api/v1/patients/").status_code == 200


def owed_session_paths(clinic) -> list[tuple[str, str]]:
    """Every list of the API's router, and the endpoints beside it that a session could use."""
    return [("get", f"/api/v1/{prefix}/") for prefix, _viewset, _name in router.registry] + [
        ("get", f"/api/v1/availability/?location={clinic.location.pk}&start=2026-03-03&end=2026-03-04&minutes=30"),
        ("get", "/api/v1/courses/1/progress/"),
        ("patch", f"/api/v1/locations/{clinic.location.pk}/"),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_a_session_that_typed_only_the_password_is_refused_by_every_api_endpoint(clock, role):
    clinic = make_clinic()
    user = getattr(clinic, role).user
    with_authenticator(user, clock)
    client = signed_in(user)
    answers = {path: getattr(client, method)(path, {"name": "Renamed"}, content_type="application/json")
               if method == "patch" else client.get(path) for method, path in owed_session_paths(clinic)}
    assert len(answers) == len(router.registry) + 3
    assert {path: (answer.status_code, answer.json()["detail"]) for path, answer in answers.items()} == (
        dict.fromkeys(answers, (403, SECOND_STEP_OWED)))
    clinic.location.refresh_from_db()
    assert clinic.location.name != "Renamed"


def test_a_password_only_session_cannot_change_a_patient_or_read_session_records(clock):
    from tests.api.conftest import booked_session

    clinic = make_clinic()
    course = booked_session(clinic).course
    user = clinic.clinician.user
    with_authenticator(user, clock)
    client = signed_in(user)
    patch = client.patch(f"/api/v1/patients/{course.patient_id}/", {"first_name": "Mallory"},
                         content_type="application/json")
    assert (patch.status_code, patch.json()["detail"]) == (403, SECOND_STEP_OWED)
    assert client.get("/api/v1/session-records/").status_code == 403
    course.patient.refresh_from_db()
    assert course.patient.first_name != "Mallory"


def test_a_manager_who_must_set_up_the_step_gets_no_api_session_and_no_token(settings):
    settings.IONTO_MANAGER_2FA_REQUIRED = True
    manager = make_clinic().manager.user
    answer = signed_in(manager).get("/api/v1/patients/")
    assert (answer.status_code, answer.json()["detail"]) == (403, SECOND_STEP_OWED)
    token = Client().post("/api/v1/auth/token/", {"username": manager.username, "password": PASSWORD},
                          content_type="application/json")
    assert (token.status_code, token.json()["errors"]) == (400, {"otp": [
        "Set up the second sign-in step at /account/2fa/setup/ before asking for a token."]})


def test_the_password_alone_cannot_replace_the_authenticator(clock):
    desk = make_clinic().front_desk.user
    own = with_authenticator(desk, clock)
    thief = signed_in(desk)
    thief.get("/account/2fa/setup/")
    theirs = TOTPDevice.objects.get(user=desk, confirmed=False)
    without = thief.post("/account/2fa/setup/", {"token": code_for(theirs)})
    assert without.status_code == 200
    assert services.CURRENT_CODE_NEEDED in without.content.decode()
    clock.shift(30)
    guessed = thief.post("/account/2fa/setup/", {"token": code_for(theirs), "current_code": "000000"})
    assert services.CURRENT_CODE_NEEDED in guessed.content.decode()
    assert list(TOTPDevice.objects.filter(user=desk, confirmed=True)) == [own]
    assert thief.get("/admin/").status_code == 302
    assert log_of(desk) == [(ADDITION, "totpdevice", "Authenticator app added.")]


def test_the_owner_replaces_the_authenticator_with_a_current_code_and_it_is_logged(clock):
    desk = make_clinic().front_desk.user
    old = with_authenticator(desk, clock)
    client = signed_in(desk)
    client.get("/account/2fa/setup/")
    new = TOTPDevice.objects.get(user=desk, confirmed=False)
    replaced = client.post("/account/2fa/setup/", {"token": code_for(new), "current_code": code_for(old),
                                                  "next": "/admin/"})
    assert (replaced.status_code, replaced["Location"]) == (302, "/admin/")
    assert list(TOTPDevice.objects.filter(user=desk)) == [new]
    assert log_of(desk) == [(ADDITION, "totpdevice", "Authenticator app added."),
                            (DELETION, "totpdevice", "Authenticator app replaced."),
                            (ADDITION, "totpdevice", "Authenticator app added.")]


def test_removing_the_second_step_takes_a_current_code_and_is_logged(clock):
    desk = make_clinic().front_desk.user
    device = with_authenticator(desk, clock)
    client = signed_in(desk)
    refused = client.post("/account/2fa/remove/", {"current_code": "123456"})
    assert services.CURRENT_CODE_NEEDED in refused.content.decode()
    assert TOTPDevice.objects.filter(user=desk).count() == 1
    clock.shift(1)
    removed = client.post("/account/2fa/remove/", {"current_code": code_for(device)})
    assert (removed.status_code, removed["Location"]) == (302, "/admin/")
    assert TOTPDevice.objects.filter(user=desk).count() == 0
    assert log_of(desk)[-1] == (DELETION, "totpdevice", "Second sign-in step removed.")
    assert signed_in(desk).get("/admin/").status_code == 200


def test_backup_codes_are_made_after_a_current_code_and_shown_once(clock):
    manager = make_clinic().manager.user
    device = with_authenticator(manager, clock)
    client = verified(manager, code_for(device))
    refused = client.post("/account/2fa/backup-codes/", {"current_code": "654321"})
    assert services.CURRENT_CODE_NEEDED in refused.content.decode()
    assert StaticToken.objects.count() == 0
    clock.shift(30)
    page = client.post("/account/2fa/backup-codes/", {"current_code": code_for(device)})
    codes = list(StaticToken.objects.filter(device__user=manager).values_list("token", flat=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(f"<code>{code}</code>" in page.content.decode() for code in codes)
    assert f"<code>{codes[0]}</code>" not in client.get("/account/2fa/backup-codes/").content.decode()
    assert log_of(manager)[-1] == (CHANGE, "staticdevice", "Made 10 new backup codes; earlier ones no longer work.")


def test_backup_codes_need_an_authenticator():
    desk = make_clinic().front_desk.user
    page = signed_in(desk).post("/account/2fa/backup-codes/", {"current_code": "abcdefgh"})
    assert "Set up an authenticator app first." in page.content.decode()
    assert StaticDevice.objects.count() == 0


def test_a_manager_who_lost_the_phone_signs_in_with_a_backup_code_once(settings, clock):
    settings.IONTO_MANAGER_2FA_REQUIRED = True
    manager = make_clinic().manager.user
    device = with_authenticator(manager, clock)
    codes = services.two_factor_backup_codes_make(user=manager, current_code=code_for(device))
    client = verified(manager, codes[0].upper())
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200
    again = signed_in(manager)
    assert "That code is not right" in again.post("/account/2fa/verify/", {"token": codes[0]}).content.decode()
    assert again.get("/admin/").status_code == 302
    assert StaticToken.objects.filter(device__user=manager).count() == 9
    assert log_of(manager)[-1] == (CHANGE, "staticdevice", "Used a backup code; 9 left.")


def test_wrong_codes_at_the_second_step_lock_the_account_like_wrong_passwords(clock):
    desk = make_clinic().front_desk.user
    device = with_authenticator(desk, clock)
    client = signed_in(desk)
    for _ in range(5):
        clock.shift(20)
        client.post("/account/2fa/verify/", {"token": "000000"})
    clock.shift(20)
    locked = Client().post("/admin/login/", {"username": desk.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 5
