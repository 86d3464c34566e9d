from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients import selectors, services
from scheduling.booking.services import appointment_cancel
from tests.factories import NO_CONTRAINDICATIONS, book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    return make_clinic()


def test_registration_refuses_future_birth_dates_and_consent_without_email(clinic):
    common = {"first_name": "Ana", "last_name": "Lima", "registered_by": clinic.front_desk.user}
    with pytest.raises(ValidationError) as future:
        services.patient_register(date_of_birth=timezone.localdate() + timedelta(days=1), **common)
    assert future.value.message_dict == {"date_of_birth": ["The date of birth is in the future."]}
    with pytest.raises(ValidationError) as consent:
        services.patient_register(date_of_birth=date(1980, 1, 1), email_consent=True, **common)
    assert consent.value.message_dict == {"email": ["An email address is needed for reminders by email."]}


def test_consent_time_is_kept_and_cleared(clinic):
    patient = make_patient(clinic, email_consent=True)
    assert patient.email_consent_at is not None
    patient = services.patient_update(patient=patient, updated_by=clinic.front_desk.user, email_consent=False)
    assert (patient.email_consent, patient.email_consent_at) == (False, None)


def test_archive_hides_the_patient_but_keeps_everything(clinic):
    patient = make_patient(clinic, last_name="Archer")
    appointment = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as upcoming:
        services.patient_archive(patient=patient, archived_by=clinic.manager.user)
    assert upcoming.value.messages == [f"{patient} has 1 upcoming session; cancel them first."]
    appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user, by="patient", reason="Moved")
    services.patient_archive(patient=patient, archived_by=clinic.manager.user)
    assert list(selectors.patient_list(search="Archer")) == []
    assert list(selectors.patient_list(search="Archer", include_archived=True)) == [patient]
    assert patient.courses.count() == 1 and patient.appointments.count() == 1
    with pytest.raises(ValidationError):
        services.patient_update(patient=patient, updated_by=clinic.front_desk.user, phone="0")


def test_search_by_name_email_phone_and_date_of_birth(clinic):
    ana = make_patient(clinic, first_name="Ana", last_name="Lima", email="ana.lima@example.org",
                       phone="+44 7700 900123", date_of_birth=date(1984, 2, 29))
    make_patient(clinic, first_name="Bo", last_name="Limes")
    assert list(selectors.patient_list(search="lim an")) == [ana]
    assert list(selectors.patient_list(search="ana.lima@")) == [ana]
    assert list(selectors.patient_list(search="900123")) == [ana]
    assert list(selectors.patient_list(search="29/02/1984")) == [ana]
    assert list(selectors.patient_list(search="1984-02-29")) == [ana]
    assert selectors.patient_list(search="' OR 1=1 --").count() == 0


def test_screening_must_answer_every_question(clinic):
    patient = make_patient(clinic, screened=False)
    answers = dict(NO_CONTRAINDICATIONS)
    del answers["epilepsy"]
    with pytest.raises(ValidationError) as missing:
        services.screening_record(patient=patient, recorded_by=clinic.clinician.user, answers=answers)
    assert missing.value.message_dict == {"answers": ["Every question needs an answer; missing: Epilepsy."]}


def test_newest_screening_stands_and_override_needs_a_reason(clinic):
    patient = make_patient(clinic)
    positive = services.screening_record(patient=patient, recorded_by=clinic.clinician.user,
                                         answers={**NO_CONTRAINDICATIONS, "pregnancy": True})
    assert selectors.screening_current(patient=patient) == positive
    assert positive.blocks_booking and positive.positive_answers() == ["Pregnant"]
    with pytest.raises(ValidationError) as no_reason:
        services.screening_override(screening=positive, overridden_by=clinic.clinician.user, reason="  ")
    assert no_reason.value.message_dict == {
        "reason": ["Give the clinical reason for treating despite the contraindication."]
    }
    overridden = services.screening_override(screening=positive, overridden_by=clinic.clinician.user,
                                             reason="Obstetrician agrees; palms only.")
    assert not overridden.blocks_booking
    assert patient.screenings.count() == 2
