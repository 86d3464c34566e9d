"""The audit trail: every change to a patient's data is written, from where, and can never be altered."""

from datetime import UTC, date

import pytest
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from clinic.request_context import RequestContextMiddleware
from patients import services
from patients.models import AuditEvent
from scheduling.booking.services import appointment_cancel, appointment_reschedule
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db


def test_register_update_and_archive_leave_a_trail_with_old_and_new_values():
    clinic = make_clinic()
    patient = make_patient(clinic, screened=False, phone="+44 7700 900001")
    services.patient_update(patient=patient, updated_by=clinic.front_desk.user, phone="+44 7700 900002",
                            date_of_birth=date(1991, 1, 2))
    services.patient_archive(patient=patient, archived_by=clinic.manager.user)
    events = list(AuditEvent.objects.filter(patient=patient).order_by("id"))
    assert [(e.action, e.actor_label, e.object_type, e.via) for e in events] == [
        ("create", clinic.front_desk.user.username, "patient", "service"),
        ("update", clinic.front_desk.user.username, "patient", "service"),
        ("archive", clinic.manager.user.username, "patient", "service"),
    ]
    assert events[1].changes == {"phone": ["+44 7700 900001", "+44 7700 900002"],
                                 "date_of_birth": ["1990-05-17", "1991-01-02"]}


def test_a_change_made_in_a_request_records_where_it_came_from():
    clinic = make_clinic()
    patient = make_patient(clinic, screened=False)

    def view(request):
        services.patient_update(patient=patient, updated_by=clinic.front_desk.user, front_desk_notes="Parks at back")
        return HttpResponse("ok")

    request = RequestFactory().post("/admin/patients/patient/1/change/", REMOTE_ADDR="192.0.2.44",
                                    HTTP_USER_AGENT="Mozilla/5.0 (front desk PC)")
    RequestContextMiddleware(view)(request)
    event = AuditEvent.objects.filter(patient=patient, action="update").get()
    assert (event.via, event.ip_address, event.user_agent) == ("admin", "192.0.2.44", "Mozilla/5.0 (front desk PC)")


def test_the_app_cannot_alter_or_delete_an_audit_row():
    clinic = make_clinic()
    patient = make_patient(clinic, screened=False)
    event = AuditEvent.objects.filter(patient=patient).get()
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(actor_label="someone else"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        lambda: connection.cursor().execute("DELETE FROM patients_auditevent"),
    ):
        with pytest.raises(DatabaseError) as refused, transaction.atomic():
            attempt()
        # The runtime role has no UPDATE or DELETE on the table; the trigger refuses the owner (test_database_roles).
        assert str(refused.value).strip() == "permission denied for table patients_auditevent"
    event.refresh_from_db()
    assert event.actor_label == clinic.front_desk.user.username


def test_screenings_and_overrides_are_in_the_trail():
    from tests.factories import NO_CONTRAINDICATIONS

    clinic = make_clinic()
    patient = make_patient(clinic, screened=False)
    screening = services.screening_record(patient=patient, recorded_by=clinic.clinician.user,
                                          answers={**NO_CONTRAINDICATIONS, "epilepsy": True})
    services.screening_override(screening=screening, overridden_by=clinic.clinician.user,
                                reason="Seizure-free for 10 years; neurologist agrees.")
    rows = list(AuditEvent.objects.filter(patient=patient, object_type="screening").order_by("id")
                .values_list("action", "changes"))
    assert rows == [("create", {}),
                    ("update", {"override_reason": ["", "Seizure-free for 10 years; neurologist agrees."]})]


def test_opening_a_record_in_the_admin_and_exporting_a_course_are_reads_in_the_trail(client):
    from tests.factories import book, make_course, next_weekday

    clinic = make_clinic()
    course = make_course(clinic)
    appointment = book(clinic, course, clinic.at(next_weekday(0), 9))
    client.force_login(clinic.clinician.user)
    pages = [f"/admin/patients/patient/{course.patient_id}/change/",
             f"/admin/scheduling/course/{course.pk}/change/",
             f"/admin/scheduling/appointment/{appointment.pk}/change/",
             f"/clinician/courses/{course.pk}/",
             f"/clinician/courses/{course.pk}/sessions.csv",
             f"/clinician/courses/{course.pk}/fhir.json"]
    for page in pages:
        assert client.get(page, REMOTE_ADDR="192.0.2.10").status_code == 200, page
    reads = list(AuditEvent.objects.filter(patient=course.patient, action__in=["read", "export"]).order_by("id")
                 .values_list("action", "object_type", "via", "actor_label", "ip_address"))
    user = clinic.clinician.user.username
    assert reads == [
        ("read", "patient", "admin", user, "192.0.2.10"),
        ("read", "course", "admin", user, "192.0.2.10"),
        ("read", "appointment", "admin", user, "192.0.2.10"),
        ("read", "course", "clinician page", user, "192.0.2.10"),
        ("export", "course", "export", user, "192.0.2.10"),
        ("export", "course", "export", user, "192.0.2.10"),
    ]


def test_reads_through_the_api_are_in_the_trail(api_client):
    from tests.factories import book, make_course, next_weekday

    clinic = make_clinic()
    course = make_course(clinic)
    appointment = book(clinic, course, clinic.at(next_weekday(0), 9))
    api_client.force_authenticate(clinic.clinician.user)
    for url in (f"/api/v1/patients/{course.patient_id}/", f"/api/v1/appointments/{appointment.pk}/",
                f"/api/v1/courses/{course.pk}/progress/"):
        assert api_client.get(url).status_code == 200, url
    assert list(AuditEvent.objects.filter(patient=course.patient, action="read").order_by("id")
                .values_list("object_type", "via")) == [("patient", "api"), ("appointment", "api"), ("course", "api")]


def test_booking_moving_cancelling_and_patient_link_reads_are_in_the_trail():
    from tests.factories import book, make_course, next_weekday

    clinic = make_clinic()
    course = make_course(clinic)
    day = next_weekday(0)
    appointment = book(clinic, course, clinic.at(day, 9))
    appointment = appointment_reschedule(appointment=appointment, starts_at=clinic.at(day, 11),
                                         rescheduled_by=clinic.front_desk.user)
    appointment_cancel(appointment=appointment, recorded_by=None, by="patient", reason="Ill")
    rows = list(AuditEvent.objects.filter(patient=course.patient, object_type="appointment").order_by("id")
                .values_list("action", "actor_label", "changes"))
    desk = clinic.front_desk.user.username
    assert rows == [
        ("create", desk, {}),
        ("update", desk, {"starts_at": [str(clinic.at(day, 9).astimezone(UTC)),
                                        str(clinic.at(day, 11).astimezone(UTC))]}),
        ("update", "service", {"status": ["booked", "cancelled"]}),
    ]
