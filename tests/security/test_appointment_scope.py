"""The booking services change an appointment only at one of the acting staff member's locations, whatever
the entry point (the admin, the API, a page): the check lives in their locked read, not in each caller."""

from datetime import timedelta

import pytest
import time_machine

from scheduling.booking.courses import course_reschedule_from
from scheduling.booking.services import (
    appointment_cancel,
    appointment_confirm,
    appointment_mark_arrived,
    appointment_mark_noshow,
    appointment_reschedule,
)
from scheduling.models import Appointment, AppointmentStatus
from tests.factories import book, make_clinic, make_course, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_clinics():
    return make_clinic(), make_clinic(name="Other Clinic")


def _changes(appointment, user):
    return {
        "cancel": lambda: appointment_cancel(appointment=appointment, recorded_by=user, by="clinic", reason="Flu"),
        "move": lambda: appointment_reschedule(appointment=appointment, rescheduled_by=user,
                                               starts_at=appointment.starts_at + timedelta(hours=1)),
        # Its preview changes nothing, but shows the course's plan: refused as well.
        "re-plan preview": lambda: course_reschedule_from(appointment=appointment, rescheduled_by=user, preview=True,
                                                          starts_at=appointment.starts_at + timedelta(hours=1)),
        "confirm": lambda: appointment_confirm(appointment=appointment, via="phone", confirmed_by=user),
        "arrive": lambda: appointment_mark_arrived(appointment=appointment, marked_by=user),
        "no-show": lambda: appointment_mark_noshow(appointment=appointment, marked_by=user),
    }


@pytest.mark.parametrize("change", ["cancel", "move", "re-plan preview", "confirm", "arrive", "no-show"])
def test_staff_of_another_location_cannot_change_an_appointment(two_clinics, change):
    own, other = two_clinics
    appointment = book(own, make_course(own), own.at(next_weekday(0), 10))
    with time_machine.travel(appointment.starts_at + timedelta(minutes=5), tick=False):
        for stranger in (other.front_desk.user, other.clinician.user):
            with pytest.raises(Appointment.DoesNotExist):
                _changes(appointment, stranger)[change]()
    stored = Appointment.objects.get(pk=appointment.pk)
    assert (stored.status, stored.starts_at, stored.confirmed_at, stored.version) == (
        AppointmentStatus.BOOKED, appointment.starts_at, None, appointment.version)


def test_staff_of_the_location_and_a_manager_elsewhere_can(two_clinics):
    own, other = two_clinics
    first = book(own, make_course(own), own.at(next_weekday(0), 10))
    second = book(own, make_course(own), own.at(next_weekday(1), 10))
    assert appointment_cancel(appointment=first, recorded_by=own.front_desk.user, by="clinic",
                              reason="Flu").status == AppointmentStatus.CANCELLED
    assert appointment_confirm(appointment=second, via="phone", confirmed_by=other.manager.user).confirmed_at
