"""A busy clinic day built through the services: the data the day schedule tests and screenshots use."""

from __future__ import annotations

from datetime import date, timedelta

from patients import services as patient_services
from scheduling.booking.services import appointment_cancel, appointment_confirm
from scheduling.models import Appointment, CancelledBy
from tests.factories import NO_CONTRAINDICATIONS, Clinic, book, make_clinic, make_course, make_patient

SPACING_MINUTES = 45  # a 30-minute session, the turnover and a little slack: every start on the 15-minute grid
SLOTS_PER_ROOM = 16  # 08:00 to 19:15


def busy_clinic(*, resources: int = 10) -> Clinic:
    return make_clinic(rooms=resources, devices=resources, clinicians=resources)


def book_many(clinic: Clinic, day: date, count: int, *, start_index: int = 0) -> list[Appointment]:
    """`count` sessions on `day`, each of its own course, filling room after room from 08:00.

    Room, device and clinician i go together, so nothing overlaps; every fifth patient is a child,
    every seventh has an overridden contraindication (a medical alert), every third has confirmed.
    """
    resources = len(clinic.rooms)
    assert count + start_index <= resources * SLOTS_PER_ROOM
    booked = []
    for i in range(start_index, start_index + count):
        column, slot = i % resources, i // resources
        if i % 7 == 3:
            patient = make_patient(clinic, screened=False, first_name="Morgan")
            patient_services.screening_record(
                patient=patient, recorded_by=clinic.clinician.user,
                answers={**NO_CONTRAINDICATIONS, "metal_implants": True},
                override_reason="Titanium plate in the left forearm, outside the current path.",
            )
        elif i % 5 == 4:
            patient = make_patient(clinic, first_name="Sam", date_of_birth=day.replace(year=day.year - 12))
        else:
            patient = None
        course = make_course(clinic, patient)
        starts_at = clinic.at(day, 8) + timedelta(minutes=SPACING_MINUTES * slot)
        appointment = book(clinic, course, starts_at, clinician=clinic.clinicians[column], room=clinic.rooms[column],
                           device=clinic.devices[column])
        if i % 3 == 2:
            appointment = appointment_confirm(appointment=appointment, via="email",
                                              confirmed_by=None)
        booked.append(appointment)
    return booked


def cancel(clinic: Clinic, appointment: Appointment, reason: str = "Patient has a cold") -> Appointment:
    return appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user,
                              by=CancelledBy.PATIENT, reason=reason)
