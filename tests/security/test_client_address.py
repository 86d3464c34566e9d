"""One client address for the lockout, the throttles, the patient-link limit and the audit trail,
read from X-Forwarded-For only behind the proxies IONTO_PROXY_COUNT names; lockouts a manager can lift."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from patients.models import AuditEvent
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse 42"
PROXY = "10.0.0.2"


def admin_login(client: Client, username: str, password: str, **headers):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, **headers)


def test_without_a_proxy_a_written_forwarded_for_does_not_escape_the_token_rate(api_client, settings):
    settings.IONTO_PROXY_COUNT = 0
    user = make_clinic().clinician.user
    answers = [api_client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD},
                               format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
                               REMOTE_ADDR="203.0.113.5").status_code
               for n in range(31)]
    assert answers == [201] * 30 + [429]


def test_behind_one_proxy_the_lockout_is_per_client_not_per_proxy(settings):
    settings.IONTO_PROXY_COUNT = 1
    clinic = make_clinic()
    through_proxy = Client(REMOTE_ADDR=PROXY)
    for i in range(5):
        admin_login(through_proxy, f"nobody{i}", "guess", HTTP_X_FORWARDED_FOR="203.0.113.66")
    locked = admin_login(through_proxy, clinic.manager.user.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert locked.status_code == 429
    colleague = admin_login(through_proxy, clinic.manager.user.username, PASSWORD,
                            HTTP_X_FORWARDED_FOR="203.0.113.77")
    assert colleague.status_code == 302


def test_behind_one_proxy_only_the_address_the_proxy_saw_is_believed(settings):
    settings.IONTO_PROXY_COUNT = 1
    clinic = make_clinic()
    patient = make_patient(clinic)
    client = Client(REMOTE_ADDR=PROXY)
    client.force_login(clinic.front_desk.user)
    # The client wrote the first address itself; the proxy appended the one it was reached from.
    client.get(f"/admin/patients/patient/{patient.pk}/change/", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.50")
    assert AuditEvent.objects.filter(patient=patient).latest("at").ip_address == "203.0.113.50"


def test_without_a_proxy_the_audit_trail_records_the_connection_not_the_header(settings):
    settings.IONTO_PROXY_COUNT = 0
    clinic = make_clinic()
    patient = make_patient(clinic)
    client = Client(REMOTE_ADDR="203.0.113.51")
    client.force_login(clinic.front_desk.user)
    client.get(f"/admin/patients/patient/{patient.pk}/change/", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditEvent.objects.filter(patient=patient).latest("at").ip_address == "203.0.113.51"


def test_sign_ins_tried_during_a_lockout_do_not_extend_it():
    clinic = make_clinic()
    username = clinic.front_desk.user.username
    client = Client(REMOTE_ADDR="203.0.113.9")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            admin_login(client, username, "wrong password")
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        assert admin_login(client, username, PASSWORD).status_code == 429
        assert admin_login(client, username, "wrong again").status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert admin_login(client, username, PASSWORD).status_code == 302


def test_a_manager_sees_and_lifts_a_lockout_in_the_admin_and_nobody_else_may():
    clinic = make_clinic()
    username = clinic.clinician.user.username
    for _ in range(5):
        admin_login(Client(REMOTE_ADDR="203.0.113.10"), username, "wrong password")
    assert admin_login(Client(REMOTE_ADDR="203.0.113.11"), username, PASSWORD).status_code == 429

    desk = Client()
    desk.force_login(clinic.front_desk.user)
    assert desk.get("/admin/axes/accessattempt/").status_code == 403

    manager = Client()
    manager.force_login(clinic.manager.user)
    listing = manager.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert username in listing.content.decode()
    from axes.models import AccessAttempt

    [attempt] = AccessAttempt.objects.filter(username=username)
    lifted = manager.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert lifted.status_code == 302
    assert admin_login(Client(REMOTE_ADDR="203.0.113.11"), username, PASSWORD).status_code == 302
