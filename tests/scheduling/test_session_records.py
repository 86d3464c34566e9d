"""Recording sessions: ranges of current, dose and scores, and who may record."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from clinic.errors import ConflictError
from scheduling.booking.courses import course_complete, course_discontinue, course_start_maintenance
from scheduling.models import AppointmentStatus, Course, CourseStatus, SessionRecord
from scheduling.records.services import session_record_create
from tests.factories import book, make_course, make_patient, next_weekday, superuser

pytestmark = pytest.mark.django_db

A_WEDNESDAY = datetime(2030, 1, 9, 8, tzinfo=UTC)


def record(clinic, appointment, **fields):
    values = {"appointment": appointment, "recorded_by": clinic.clinician.user, "minutes_of_current": 20,
                  "sites": [{"site": "palms", "current_ma": 15}], "hdss": 3}
    values.update(fields)
    with time_machine.travel(appointment.ends_at, tick=False):
        return session_record_create(**values)


def test_recording_fulfils_the_appointment_and_activates_the_course(clinic):
    course = make_course(clinic)
    appointment = book(clinic, course, clinic.at(next_weekday(0), 9))
    session = record(clinic, appointment, side_effects=[{"kind": "erythema", "grade": 1}], sweat_mg_min=Decimal("45.5"),
                     sweat_site="palms", polarity_reversed=True)
    appointment.refresh_from_db()
    course.refresh_from_db()
    assert (appointment.status, appointment.version, course.status) == ("fulfilled", 2, CourseStatus.ACTIVE)
    assert [(site.site, site.current_ma) for site in session.sites.all()] == [("palms", Decimal("15.0"))]
    assert [(effect.kind, effect.grade) for effect in session.side_effects.all()] == [("erythema", 1)]
    assert (session.medium, session.dose_ma_min, session.hdss) == ("tap", None, 3)


def test_the_course_starts_on_its_first_fulfilled_session_also_when_an_earlier_one_is_recorded_late(clinic):
    course = make_course(clinic)
    monday = next_weekday(0)
    wednesday = monday + timedelta(days=2)
    first = book(clinic, course, clinic.at(monday, 9))
    second = book(clinic, course, clinic.at(wednesday, 9))
    record(clinic, second)
    course.refresh_from_db()
    assert (course.status, course.started_on) == (CourseStatus.ACTIVE, wednesday)
    with time_machine.travel(second.ends_at, tick=False):  # Monday's session recorded after Wednesday's
        session_record_create(appointment=first, recorded_by=clinic.clinician.user, minutes_of_current=20,
                              sites=[{"site": "palms", "current_ma": 15}], hdss=4)
    course.refresh_from_db()
    assert (course.status, course.started_on) == (CourseStatus.ACTIVE, monday)


def test_front_desk_cannot_record_a_session(clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    with pytest.raises(PermissionError) as refused:
        record(clinic, appointment, recorded_by=clinic.front_desk.user)
    assert str(refused.value) == "Only a clinician can record a session."
    assert not SessionRecord.objects.exists()


def test_recording_against_a_stale_version_is_refused_and_records_nothing(clinic):
    with time_machine.travel(A_WEDNESDAY, tick=False):
        appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
        with pytest.raises(ConflictError) as stale:
            record(clinic, appointment, expected_version=appointment.version - 1)
        assert record(clinic, appointment, expected_version=appointment.version).pk
    assert (stale.value.messages, stale.value.code) == (
        ["This appointment was changed by someone else; reload it and try again."], "version_mismatch")
    assert SessionRecord.objects.count() == 1


def test_front_desk_can_neither_end_nor_extend_a_course(clinic):
    desk = clinic.front_desk.user
    with time_machine.travel(A_WEDNESDAY, tick=False):
        open_course = make_course(clinic, planned_sessions=6)
        booked = book(clinic, open_course, clinic.at(next_weekday(0), 9))
        done = make_course(clinic, planned_sessions=6)
        record(clinic, book(clinic, done, clinic.at(next_weekday(1), 9)))
        with time_machine.travel(clinic.at(next_weekday(2), 9), tick=False):
            course_complete(course=done, completed_by=clinic.clinician.user)
        refusals = []
        for end in (lambda: course_complete(course=open_course, completed_by=desk),
                    lambda: course_discontinue(course=open_course, discontinued_by=desk, reason="Moved"),
                    lambda: course_start_maintenance(course=done, created_by=desk)):
            with pytest.raises(PermissionError) as refused:
                end()
            refusals.append(str(refused.value))
    assert refusals == ["Only a clinician or a manager ends or extends a course."] * 3
    open_course.refresh_from_db()
    booked.refresh_from_db()
    assert (open_course.status, booked.status) == (CourseStatus.PLANNED, AppointmentStatus.BOOKED)
    assert not Course.objects.filter(follows=done).exists()


def test_a_superuser_ends_a_course_as_a_manager(clinic):
    with time_machine.travel(A_WEDNESDAY, tick=False):
        course = make_course(clinic)
        stopped = course_discontinue(course=course, discontinued_by=superuser(), reason="Moved away")
    assert stopped.status == CourseStatus.DISCONTINUED


def test_current_above_the_adult_limit_on_tap_water_is_refused(clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as refused:
        record(clinic, appointment, sites=[{"site": "palms", "current_ma": 21}])
    assert refused.value.message_dict == {"sites": [f"Palms 21 mA: the limit for an adult on tap water at "
                                                    f"{clinic.location} is 20.0 mA."]}
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_children_get_the_lower_limit(clinic):
    child = make_patient(clinic, date_of_birth=date(date.today().year - 12, 1, 1))
    appointment = book(clinic, make_course(clinic, child), clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as refused:
        record(clinic, appointment, sites=[{"site": "palms", "current_ma": 16}])
    assert refused.value.message_dict == {"sites": [f"Palms 16 mA: the limit for a patient under 18 on tap water "
                                                    f"at {clinic.location} is 15.0 mA."]}
    assert record(clinic, appointment, sites=[{"site": "palms", "current_ma": 15}]).pk


def test_medicated_dose_is_computed_and_never_above_80(clinic):
    course = make_course(clinic, medicated=True)
    first = book(clinic, course, clinic.at(next_weekday(0), 9))
    session = record(clinic, first, sites=[{"site": "other", "site_other": "elbow", "current_ma": 2}],
                     minutes_of_current=20, hdss=None, pain_nprs=6)
    assert (session.medium, session.dose_ma_min) == ("drug", Decimal("40.0"))
    second = book(clinic, course, clinic.at(next_weekday(2), 9))
    with pytest.raises(ValidationError) as too_much:
        record(clinic, second, sites=[{"site": "other", "site_other": "elbow", "current_ma": 3.5}],
               minutes_of_current=25, hdss=None, pain_nprs=5)
    assert too_much.value.message_dict == {"dose_ma_min": ["A dose of 87.5 mA·min is above the limit of 80 mA·min."]}
    with pytest.raises(ValidationError) as too_strong:
        record(clinic, second, sites=[{"site": "other", "site_other": "elbow", "current_ma": 5}],
               minutes_of_current=10, hdss=None, pain_nprs=5)
    assert too_strong.value.message_dict["sites"] == [
        f"Other 5 mA: the limit for a medicated session at {clinic.location} is 4 mA."
    ]


def test_outcome_scores_follow_the_indication(clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as refused:
        record(clinic, appointment, hdss=None, pain_nprs=4)
    assert refused.value.message_dict == {
        "hdss": ["Record the HDSS score (1-4)."],
        "pain_nprs": ["Pain scores are for musculoskeletal courses."],
    }
    with pytest.raises(ValidationError) as out_of_range:
        record(clinic, appointment, hdss=5)
    assert "hdss" in out_of_range.value.message_dict


def test_sites_must_belong_to_the_course_and_current_fit_the_session(clinic):
    appointment = book(clinic, make_course(clinic, session_minutes=25), clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as refused:
        record(clinic, appointment, sites=[{"site": "soles", "current_ma": 12}], minutes_of_current=30)
    assert refused.value.message_dict == {
        "minutes_of_current": ["30 minutes of current do not fit a 25-minute session."],
        "sites": ["Record only the course's sites: Palms."],
    }


def test_a_session_is_recorded_once_and_not_before_it_starts(clinic):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as early:
        session_record_create(appointment=appointment, recorded_by=clinic.clinician.user, minutes_of_current=20,
                              sites=[{"site": "palms", "current_ma": 12}], hdss=3)
    assert early.value.messages == ["This session has not started yet."]
    record(clinic, appointment)
    with pytest.raises(ValidationError) as twice:
        record(clinic, appointment)
    assert twice.value.messages == ["This session is fulfilled; only a booked or arrived session can be recorded."]


def test_course_complete_then_maintenance(clinic):
    course = make_course(clinic, planned_sessions=6)
    first = book(clinic, course, clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as nothing_done:
        course_complete(course=course, completed_by=clinic.clinician.user)
    assert nothing_done.value.messages == ["A course with no session done cannot be completed; discontinue it "
                                           "instead."]
    record(clinic, first)
    later = book(clinic, course, clinic.at(next_weekday(2), 9))
    with pytest.raises(ValidationError) as pending:
        course_complete(course=course, completed_by=clinic.clinician.user)
    assert pending.value.messages == ["1 session is still booked; record or cancel them first."]
    record(clinic, later)
    with time_machine.travel(later.ends_at, tick=False):
        done = course_complete(course=course, completed_by=clinic.clinician.user)
    assert done.status == CourseStatus.COMPLETED
    maintenance = course_start_maintenance(course=done, created_by=clinic.clinician.user, interval_weeks=3)
    assert (maintenance.phase, maintenance.follows, maintenance.maintenance_interval_weeks,
            maintenance.planned_sessions, maintenance.sessions_per_week) == ("maintenance", done, 3, 6, 1)
    with pytest.raises(ValidationError):
        course_start_maintenance(course=done, created_by=clinic.clinician.user)


def test_a_clinician_cannot_record_a_session_of_another_location_and_is_not_told_its_name(clinic):
    from tests.factories import make_clinic

    other = make_clinic(name="Southbank")
    appointment = book(other, make_course(other), other.at(next_weekday(0), 9))
    with pytest.raises(PermissionError) as refused:
        record(clinic, appointment, sites=[{"site": "palms", "current_ma": 25}])
    assert str(refused.value) == "You can record sessions only at your own locations."
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED
    assert not SessionRecord.objects.exists()


def test_several_side_effects_each_with_its_grade_reach_the_flags_csv_and_fhir(clinic):
    from scheduling.records.exports import course_sessions_csv
    from scheduling.records.fhir import course_fhir_bundle
    from scheduling.records.progress import course_progress

    course = make_course(clinic)
    appointment = book(clinic, course, clinic.at(next_weekday(0), 9))
    record(clinic, appointment, side_effects=[{"kind": "tingling", "grade": 1}, {"kind": "dryness", "grade": 1},
                                              {"kind": "blistering", "grade": 2}])
    with time_machine.travel(appointment.ends_at, tick=False):
        progress = course_progress(course=course)
    assert "side_effect" in {flag.kind for flag in progress.flags}
    assert "Blistering grade 2; Dryness grade 1; Tingling grade 1" in course_sessions_csv(progress=progress)
    procedure = next(entry["resource"] for entry in course_fhir_bundle(progress=progress)["entry"]
                     if entry["resource"]["resourceType"] == "Procedure")
    assert [c["text"] for c in procedure["complication"]] == [
        "Blistering grade 2", "Dryness grade 1", "Tingling grade 1"]


@pytest.mark.parametrize(("effects", "message"), [
    ([{"kind": "other", "kind_other": " ", "grade": 2}], "Say what each graded side effect was."),
    ([{"kind": "dryness", "grade": None}], "Give the grade (1-3) of the dryness."),
    ([{"kind": "dryness", "grade": 1}, {"kind": "dryness", "grade": 2}],
     "Record each side effect once, with its highest grade."),
])
def test_a_side_effect_without_its_kind_or_grade_is_refused_not_dropped(clinic, effects, message):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    with pytest.raises(ValidationError) as refused:
        record(clinic, appointment, side_effects=effects)
    assert refused.value.message_dict == {"side_effects": [message]}
    assert not SessionRecord.objects.exists()
