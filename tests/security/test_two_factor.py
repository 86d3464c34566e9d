"""The second sign-in step: required for managers where configured, optional for other staff."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import services
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse 42"


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def signed_in(user) -> Client:
    client = Client()
    assert client.post("/admin/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def test_a_manager_must_set_up_the_second_step_before_any_admin_page(settings):
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
    confirmed = client.post("/account/2fa/setup/", {"token": code_for(device), "next": "/admin/"})
    assert (confirmed.status_code, confirmed["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_staff_with_an_authenticator_pass_the_second_step_at_every_sign_in():
    desk = make_clinic().front_desk.user
    device = services.two_factor_setup_start(user=desk)
    services.two_factor_setup_confirm(user=desk, device=device, token=code_for(device))
    client = signed_in(desk)
    response = client.get("/admin/")
    assert response["Location"] == "/account/2fa/verify/?next=/admin/"
    assert "That code is not right" in client.post("/account/2fa/verify/", {"token": "123456"}).content.decode()
    assert client.get("/admin/").status_code == 302
    # A later time step: the setup's code cannot be used twice, and a failure slows the next try.
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        device.refresh_from_db()
        client.post("/account/2fa/verify/", {"token": code_for(device), "next": "/admin/"})
        assert client.get("/admin/").status_code == 200


def test_staff_without_an_authenticator_and_not_managers_sign_in_with_the_password(settings):
    settings.IONTO_MANAGER_2FA_REQUIRED = True
    desk = make_clinic().front_desk.user
    assert signed_in(desk).get("/admin/").status_code == 200


def test_the_next_address_cannot_send_the_user_elsewhere():
    desk = make_clinic().front_desk.user
    device = services.two_factor_setup_start(user=desk)
    services.two_factor_setup_confirm(user=desk, device=device, token=code_for(device))
    client = signed_in(desk)
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        device.refresh_from_db()
        response = client.post("/account/2fa/verify/", {"token": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"
