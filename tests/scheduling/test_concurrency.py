"""Twenty desks press "book" at the same moment: the database decides, one wins, nobody gets a 500."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from clinic.errors import ConflictError
from scheduling.booking.services import appointment_book, appointment_cancel, locked_course
from scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus, CancelledBy
from tests.factories import make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def race(attempts):
    """Run each attempt in its own thread on its own connection, all released at once."""
    barrier = threading.Barrier(len(attempts))
    outcomes = [None] * len(attempts)

    def run(i, attempt):
        try:
            barrier.wait()
            outcomes[i] = attempt()
        except Exception as error:  # the outcome under test, whatever it is
            outcomes[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, attempt)) for i, attempt in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def overlapping_pairs(field: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT count(*) FROM scheduling_appointment a JOIN scheduling_appointment b
                ON a.{field}_id = b.{field}_id AND a.id < b.id
                AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
                WHERE a.status = ANY(%s) AND b.status = ANY(%s)""",  # noqa: S608 - field is one of four names
            [list(ACTIVE_STATUSES), list(ACTIVE_STATUSES)],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def day():
    return next_weekday(2)


@pytest.mark.parametrize("shared", ["clinician", "room", "device", "patient"])
def test_twenty_simultaneous_bookings_of_one_resource_let_exactly_one_through(shared, day):
    clinic = make_clinic(rooms=THREADS, devices=THREADS, clinicians=THREADS)
    if shared == "patient":
        # One open course per indication and site (issue 20): six courses of one patient race.
        patient = make_patient(clinic, medicated=True)
        courses = [make_course(clinic, patient, medicated=medicated, body_sites=[site])
                   for medicated in (False, True) for site in ("palms", "soles", "axillae")]
    else:
        courses = [make_course(clinic) for _ in range(THREADS)]
    threads = len(courses)

    def attempt(i):
        def book():
            # Everything differs from the others' bookings but the shared resource; times overlap.
            return appointment_book(
                course=courses[i],
                clinician=clinic.clinicians[0 if shared == "clinician" else i],
                room=clinic.rooms[0 if shared == "room" else i],
                device=clinic.devices[0 if shared == "device" else i],
                starts_at=clinic.at(day, 10) + timedelta(minutes=i % 3 * 5),
                booked_by=clinic.front_desk.user,
            )
        return book

    outcomes = race([attempt(i) for i in range(threads)])
    booked = [o for o in outcomes if isinstance(o, Appointment)]
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert (len(booked), len(refused)) == (1, threads - 1), [repr(o) for o in outcomes]
    assert Appointment.objects.filter(status__in=ACTIVE_STATUSES).count() == 1
    assert overlapping_pairs(shared) == 0
    for error in refused:
        assert "booked" in error.messages[0] or "already has a session" in error.messages[0]


def test_a_cancellation_does_not_wait_for_a_booking_that_holds_the_location(day):
    """A booking holds its location's row until it commits (the turnover of its rooms and devices); a
    change of status (cancel, arrive, no-show) frees or marks a time and takes only its own rows."""
    clinic = make_clinic()
    session = appointment_book(course=make_course(clinic), clinician=clinic.clinician, room=clinic.room,
                               device=clinic.device, starts_at=clinic.at(day, 10), booked_by=clinic.front_desk.user)
    other = make_course(clinic)
    holding, finished = threading.Event(), threading.Event()

    def book_slowly():
        try:
            with transaction.atomic():
                locked_course(other)  # what every booking at the location takes first
                holding.set()
                finished.wait(30)
        finally:
            connection.close()

    booking = threading.Thread(target=book_slowly)
    booking.start()
    try:
        assert holding.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")  # waiting on the booking would fail here
            cancelled = appointment_cancel(appointment=session, recorded_by=clinic.front_desk.user,
                                           by=CancelledBy.CLINIC, reason="Device serviced")
    finally:
        finished.set()
        booking.join()
    assert cancelled.status == AppointmentStatus.CANCELLED
