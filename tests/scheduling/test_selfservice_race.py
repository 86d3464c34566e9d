"""Patients moving their sessions to the same free time at the same moment: the database decides."""

import pytest

from clinic.errors import ConflictError
from scheduling.models import Appointment
from scheduling.selfservice.selectors import appointment_move_options
from scheduling.selfservice.services import TAKEN, appointment_move_by_patient
from tests.factories import book, make_clinic, make_course, next_weekday
from tests.scheduling.test_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_five_patients_moving_to_one_free_time_at_once_one_wins_the_others_are_told_it_was_taken():
    clinic = make_clinic(clinicians=1, rooms=1, devices=1)
    sessions = [book(clinic, make_course(clinic), clinic.at(next_weekday(day), 9)) for day in range(5)]
    # The same free time, as each patient's page offered it (one clinician, room and device: all want them).
    options = [appointment_move_options(appointment=session)[0].options[0] for session in sessions]
    assert len({option.starts_at for option in options}) == 1
    outcomes = race([lambda session=session, option=option: appointment_move_by_patient(
        appointment=session, option=option, expected_version=session.version)
        for session, option in zip(sessions, options, strict=True)])
    moved = [outcome for outcome in outcomes if isinstance(outcome, Appointment)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ConflictError)]
    assert (len(moved), len(refused)) == (1, 4), outcomes
    assert {tuple(error.messages) for error in refused} == {(TAKEN,)}
    assert Appointment.objects.filter(starts_at=options[0].starts_at).count() == 1
    assert Appointment.objects.exclude(moved_by_patient_at=None).get() == moved[0]
