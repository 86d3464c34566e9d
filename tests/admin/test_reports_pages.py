"""The report pages beside the clinician dashboard: managers only, behind the second sign-in step."""

import pytest

from patients.models import AuditAction, AuditEvent
from tests.factories import code_for, make_clinic, superuser
from tests.scheduling.report_clinics import END, START, attendance_clinic
from tests.security.test_two_factor import clock, signed_in, verified, with_authenticator  # noqa: F401

pytestmark = pytest.mark.django_db

PAGES = [f"/clinician/reports/{name}/" for name in ("utilization", "attendance", "outcomes", "reminders")]
DOWNLOADS = [f"/clinician/reports/{name}.csv" for name in ("utilization", "attendance", "outcomes", "reminders")]


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_front_desk_and_clinicians_are_refused_every_page_and_download(client, role):
    clinic = make_clinic()
    client.force_login(getattr(clinic, role).user)
    for path in ["/clinician/reports/", *PAGES, *DOWNLOADS]:
        assert client.get(path).status_code == 403, path
    assert "Only managers see the reports." in client.get(PAGES[0]).content.decode()
    assert 'href="/clinician/reports/"' not in client.get("/admin/").content.decode()
    assert not AuditEvent.objects.filter(object_type="report").exists()


def test_managers_and_superusers_get_in_and_find_the_link(client):
    clinic = make_clinic()
    for user in (clinic.manager.user, superuser()):
        client.force_login(user)
        assert 'href="/clinician/reports/"' in client.get("/admin/").content.decode()
        assert 'href="/clinician/reports/"' in client.get("/clinician/").content.decode()
        for path in [*PAGES, *DOWNLOADS]:
            assert client.get(path).status_code == 200, path


def test_signed_out_visitors_go_to_the_sign_in_page(client):
    response = client.get(PAGES[1])
    assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={PAGES[1]}")


def test_a_manager_with_an_authenticator_passes_the_second_step_first(clock):  # noqa: F811
    manager = make_clinic().manager.user
    device = with_authenticator(manager, clock)
    owed = signed_in(manager).get(PAGES[0])
    assert (owed.status_code, owed["Location"]) == (302, f"/account/2fa/verify/?next={PAGES[0]}")
    assert verified(manager, code_for(device)).get(PAGES[0]).status_code == 200


def test_page_reads_of_named_patients_and_downloads_are_audited(client):
    clinic, sessions = attendance_clinic()
    client.force_login(clinic.manager.user)
    query = f"?start={START}&end={END}"
    assert client.get(f"/clinician/reports/utilization/{query}").status_code == 200
    assert not AuditEvent.objects.filter(object_type="report").exists()  # no patient named: nothing to record
    assert client.get(f"/clinician/reports/attendance/{query}").status_code == 200
    download = client.get(f"/clinician/reports/utilization.csv{query}")
    assert download["Content-Disposition"] == 'attachment; filename="utilization-20261019-20261101.csv"'
    assert [(event.action, event.patient_id, event.object_id) for event in
            AuditEvent.objects.filter(object_type="report").order_by("id")] == [
        (AuditAction.READ, sessions["a1"].patient_id, "attendance"), (AuditAction.EXPORT, None, "utilization")]
