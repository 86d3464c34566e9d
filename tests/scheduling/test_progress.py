"""course_progress: every figure and flag of courses built through the services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from scheduling.booking.courses import course_start_maintenance
from scheduling.booking.selectors import course_list_with_progress, course_sessions_left_to_book
from scheduling.booking.services import appointment_mark_entered_in_error
from scheduling.desk.admin_courses import progress_text
from scheduling.models import Course, SideEffect
from scheduling.records.progress import Flag, Gap, course_list_for_dashboard, course_progress
from tests.conftest import made_once
from tests.factories import make_clinic, make_course, make_patient
from tests.scheduling.progress_courses import BOOKED, CANCEL, NOSHOW, after, complete, scored, treat

pytestmark = pytest.mark.django_db


rows_made_once, clinic = made_once(make_clinic)  # each test rolled back to the clinic


def day(value: date) -> str:
    return f"{value:%a %d %b %Y}"


def flags_of(progress) -> list[tuple[str, str]]:
    return [(flag.kind, flag.message) for flag in progress.flags]


def test_responder_shows_its_figures_and_no_flag(clinic, monday):
    course = make_course(clinic, planned_sessions=8)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11, 14, 16)]
    scores = [4, 4, 3, 3, 2, 2]
    currents = [12, 14, 15, 15, 15, 15]
    treat(clinic, course, [(d, scored(s, current=c)) for d, s, c in zip(days, scores, currents, strict=False)]
          + [(days[6], BOOKED), (days[7], BOOKED)])

    progress = course_progress(course=course, today=days[5])

    assert (progress.planned, progress.booked, progress.fulfilled, progress.cancelled, progress.noshow,
            progress.unbooked) == (8, 2, 6, 0, 0, 0)
    assert progress.planned_gap_days == 3
    assert progress.long_gaps == []
    assert [row.number for row in progress.sessions] == [1, 2, 3, 4, 5, 6, None, None]
    assert [row.date for row in progress.sessions] == days
    assert [row.status for row in progress.sessions] == ["fulfilled"] * 6 + ["booked"] * 2
    assert [row.current_ma for row in progress.recorded_sessions] == [Decimal(c) for c in currents]
    assert [row.minutes_of_current for row in progress.recorded_sessions] == [20] * 6
    assert [row.days_since_previous for row in progress.recorded_sessions] == [None, 2, 2, 3, 2, 2]
    assert [(site.site, site.label) for site in progress.sessions[0].sites] == [("palms", "Palms")]
    assert all(row.dose_ma_min is None and row.cumulative_dose_ma_min is None for row in progress.sessions)
    assert progress.cumulative_dose_ma_min is None
    assert progress.outcome.measure == "hdss"
    assert [(p.number, p.date, p.value) for p in progress.outcome.points] == [
        (n + 1, days[n], Decimal(s)) for n, s in enumerate(scores)
    ]
    assert (progress.outcome.baseline, progress.outcome.latest, progress.outcome.change) == (4, 2, -2)
    assert progress.sweat is None
    assert progress.maintenance_due_on is None
    assert progress.flags == []


def test_non_responder_after_six_sessions_is_flagged_with_unbooked_sessions(clinic, monday):
    course = make_course(clinic, planned_sessions=8)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [(d, scored(s)) for d, s in zip(days, [3, 3, 3, 3, 2, 3], strict=True)])

    progress = course_progress(course=course, today=days[-1])

    assert (progress.planned, progress.booked, progress.fulfilled, progress.unbooked) == (8, 0, 6, 2)
    assert (progress.outcome.baseline, progress.outcome.latest, progress.outcome.change) == (3, 3, 0)
    assert flags_of(progress) == [
        ("no_response", "No response after 6 sessions: HDSS 3 at baseline, 3 now (a response is a fall of 1 or more)."),
        ("follow_up", "2 of 8 planned sessions are not booked."),
    ]


def test_five_sessions_without_response_are_not_yet_judged(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9)]
    treat(clinic, course, [(d, scored(3)) for d in days] + [(monday + timedelta(days=11), BOOKED)])

    assert course_progress(course=course, today=days[-1]).flags == []


def test_no_response_after_four_weeks_counts_days_from_the_first_session(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday, monday + timedelta(days=7), monday + timedelta(days=14)]
    treat(clinic, course, [(d, scored(s)) for d, s in zip(days, [4, 3, 4], strict=True)]
          + [(monday + timedelta(days=28), BOOKED)])

    before = course_progress(course=course, today=monday + timedelta(days=27))
    progress = course_progress(course=course, today=monday + timedelta(days=28))

    assert [kind for kind, _ in flags_of(before)] == ["follow_up"]
    # Seven days apart is longer than the cadence plans (3) but not an adherence problem (more than 7).
    assert progress.long_gaps == [Gap(after=days[0], before=days[1], days=7),
                                  Gap(after=days[1], before=days[2], days=7)]
    assert flags_of(progress) == [
        ("no_response", "No response after 28 days: HDSS 4 at baseline, 4 now (a response is a fall of 1 or more)."),
        ("follow_up", "2 of 6 planned sessions are not booked."),
    ]


def test_blistering_of_grade_two_in_the_last_session_suggests_lowering_the_current(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [
        (days[0], scored(4, current=14)),
        (days[1], scored(4, current=16, side_effects=[{"kind": "erythema", "grade": 1}])),
        (days[2], scored(3, current=18, side_effects=[{"kind": "blistering", "grade": 2},
                                                      {"kind": "tingling", "grade": 1}])),
    ] + [(d, BOOKED) for d in days[3:]])

    progress = course_progress(course=course, today=days[2])

    assert [[(e.kind, e.grade) for e in row.side_effects] for row in progress.recorded_sessions] == [
        [], [("erythema", 1)], [("blistering", 2), ("tingling", 1)]]
    assert flags_of(progress) == [
        ("side_effect", f"Blistering grade 2 in the last session ({day(days[2])}): consider lowering the current "
                        "(it was 18.0 mA)."),
    ]


def test_a_burn_of_any_grade_in_the_last_session_is_flagged(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [
        (days[0], scored(4, current=15, side_effects=[{"kind": "burn", "grade": 1},
                                                      {"kind": "itching", "grade": 2}])),
    ] + [(d, BOOKED) for d in days[1:]])

    assert flags_of(course_progress(course=course, today=days[0])) == [
        ("side_effect", f"Burn grade 1 in the last session ({day(days[0])}): consider lowering "
                        "the current (it was 15.0 mA)."),
    ]


def test_grade_two_or_three_effects_other_than_blistering_or_burn_do_not_flag(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [
        (days[0], scored(4, side_effects=[{"kind": "erythema", "grade": 2}, {"kind": "itching", "grade": 3},
                                          {"kind": "blistering", "grade": 1}])),
    ] + [(d, BOOKED) for d in days[1:]])

    assert course_progress(course=course, today=days[0]).flags == []


@pytest.mark.parametrize(("kind", "grade", "flags"), [
    ("erythema", 2, False), ("erythema", 3, False), ("tingling", 3, False), ("other", 3, False),
    ("blistering", 1, False), ("blistering", 2, True), ("blistering", 3, True), ("burn", 1, True),
])
def test_only_blistering_of_grade_two_or_more_or_a_burn_raises_the_flag(kind, grade, flags):
    assert SideEffect(kind=kind, grade=grade).raises_flag is flags


def test_side_effect_of_an_earlier_session_no_longer_flags(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [
        (days[0], scored(4, side_effects=[{"kind": "burn", "grade": 2}])),
        (days[1], scored(4, side_effects=[{"kind": "erythema", "grade": 1}])),
    ] + [(d, BOOKED) for d in days[2:]])

    assert course_progress(course=course, today=days[1]).flags == []


def test_missed_session_and_long_gap_flag_adherence(clinic, monday):
    course = make_course(clinic, planned_sessions=8)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 11, 14, 16)]
    treat(clinic, course, [
        (days[0], scored(4)), (days[1], NOSHOW), (days[2], CANCEL), (days[3], scored(3)), (days[4], BOOKED),
        (days[5], BOOKED),
    ])

    progress = course_progress(course=course, today=days[3])

    assert (progress.planned, progress.booked, progress.fulfilled, progress.cancelled, progress.noshow,
            progress.unbooked) == (8, 2, 2, 1, 1, 4)
    assert [row.status for row in progress.sessions] == ["fulfilled", "noshow", "cancelled", "fulfilled", "booked",
                                                          "booked"]
    assert progress.long_gaps == [Gap(after=days[0], before=days[3], days=11)]
    assert flags_of(progress) == [
        ("adherence", f"1 missed session ({day(days[1])}); 11 days between sessions ({day(days[0])} to "
                      f"{day(days[3])})."),
        ("follow_up", "4 of 8 planned sessions are not booked."),
    ]


def test_medicated_course_adds_up_its_dose_and_flags_the_limit(clinic, monday):
    course = make_course(clinic, medicated=True, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [(days[0], scored(6, current=2)), (days[1], scored(5, current=3.6)),
                           (days[2], scored(3, current=4))] + [(d, BOOKED) for d in days[3:]])

    progress = course_progress(course=course, today=days[2])

    assert [row.dose_ma_min for row in progress.recorded_sessions] == [Decimal(40), Decimal(72), Decimal(80)]
    assert [row.cumulative_dose_ma_min for row in progress.recorded_sessions] == [40, 112, 192]
    assert progress.cumulative_dose_ma_min == 192
    assert [(site.site, site.label) for site in progress.sessions[0].sites] == [("other", "left lateral epicondyle")]
    assert progress.outcome.measure == "pain_nprs"
    assert (progress.outcome.baseline, progress.outcome.latest, progress.outcome.change) == (6, 3, -3)
    assert flags_of(progress) == [
        ("dose", "The last session's dose of 80.0 mA·min is at the limit of 80 mA·min."),
    ]


def test_medicated_session_at_ninety_percent_of_the_limit_is_near_it(clinic, monday):
    course = make_course(clinic, medicated=True, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [(days[0], scored(6, current=3.5)), (days[1], scored(6, current=3.6))]
          + [(d, BOOKED) for d in days[2:]])

    progress = course_progress(course=course, today=days[1])

    # 3.5 mA for 20 minutes is 70 mA·min; 3.6 mA is 72, 90% of the 80 mA·min limit.
    assert [row.dose_ma_min for row in progress.recorded_sessions] == [70, 72]
    assert flags_of(progress) == [
        ("dose", "The last session's dose of 72.0 mA·min is near the limit of 80 mA·min."),
    ]


def test_medicated_course_without_pain_response_after_six_sessions(clinic, monday):
    course = make_course(clinic, medicated=True, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [(d, scored(s)) for d, s in zip(days, [7, 7, 6, 6, 6, 6], strict=True)])

    assert flags_of(course_progress(course=course, today=days[-1])) == [
        ("no_response", "No response after 6 sessions: Pain 7 at baseline, 6 now (a response is a fall of 2 or more)."),
    ]


def test_sweat_rate_is_a_series_of_its_own(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    treat(clinic, course, [(days[0], scored(4, sweat=120.5)), (days[1], scored(3)), (days[2], scored(3, sweat=60))]
          + [(d, BOOKED) for d in days[3:]])

    sweat = course_progress(course=course, today=days[2]).sweat

    assert [(p.number, p.value) for p in sweat.points] == [(1, Decimal("120.5")), (3, Decimal("60.0"))]
    assert (sweat.baseline, sweat.latest, sweat.change) == (Decimal("120.5"), Decimal("60.0"), Decimal("-60.5"))


def _completed_initial_course(clinic, monday, patient=None):
    course = make_course(clinic, patient, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    appointments = treat(clinic, course, [(d, scored(s)) for d, s in zip(days, [4, 3, 3, 2, 2, 2], strict=True)])
    return complete(clinic, course, after(appointments[-1])), days


def test_completed_course_without_maintenance_is_due_two_weeks_after_its_last_session(clinic, monday):
    course, days = _completed_initial_course(clinic, monday)

    before = course_progress(course=course, today=days[-1] + timedelta(days=13))
    due = course_progress(course=course, today=days[-1] + timedelta(days=14))

    assert due.maintenance_due_on == days[-1] + timedelta(days=14)
    assert before.flags == []
    assert flags_of(due) == [
        ("follow_up", f"Maintenance session due since {day(days[-1] + timedelta(days=14))} and not booked."),
    ]


def test_maintenance_course_due_and_not_booked(clinic, monday):
    initial, days = _completed_initial_course(clinic, monday)
    after_last = days[-1] + timedelta(days=1)
    with time_machine.travel(clinic.at(after_last, 9), tick=False):
        maintenance = course_start_maintenance(course=initial, created_by=clinic.clinician.user,
                                               interval_weeks=3, planned_sessions=3)
    first = after_last + timedelta(days=20)
    treat(clinic, maintenance, [(first, scored(2))])

    progress = course_progress(course=maintenance, today=first + timedelta(days=21))
    assert course_progress(course=initial, today=first).flags == []  # its maintenance runs
    assert progress.planned_gap_days == 21
    assert progress.maintenance_due_on == first + timedelta(days=21)
    assert flags_of(progress) == [
        ("follow_up", f"2 of 3 planned sessions are not booked; maintenance session due since "
                      f"{day(first + timedelta(days=21))} and not booked."),
    ]


def test_progress_the_admin_list_and_the_follow_up_count_the_same_sessions_left_to_book(clinic):
    monday = date(2027, 5, 3)
    with time_machine.travel(datetime(2027, 5, 2, 12, tzinfo=UTC), tick=False):
        course = make_course(clinic, planned_sessions=8)
        appointments = treat(clinic, course, [
            (monday, scored(3)), (monday + timedelta(days=2), NOSHOW), (monday + timedelta(days=4), CANCEL),
            (monday + timedelta(days=7), scored(3)), (monday + timedelta(days=9), BOOKED),
            (monday + timedelta(days=11), BOOKED), (monday + timedelta(days=14), BOOKED),
        ])
        appointment_mark_entered_in_error(appointment=appointments[-1], marked_by=clinic.front_desk.user,
                                          reason="Booked twice")
        listed = course_list_with_progress(courses=Course.objects.filter(pk=course.pk)).get()

        assert course_progress(course=course, today=monday + timedelta(days=8)).unbooked == 4
        assert course_sessions_left_to_book(course=course) == 4
        assert progress_text(listed) == "2 of 8 done, 2 booked, next Wed 12 May 10:00 BST; 4 to book"


def test_entered_in_error_appointments_are_left_out(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    appointments = treat(clinic, course, [(monday + timedelta(days=n), BOOKED) for n in (0, 2, 4, 7, 9, 11)])
    appointment_mark_entered_in_error(appointment=appointments[0], marked_by=clinic.front_desk.user,
                                      reason="Booked for the wrong patient")

    progress = course_progress(course=course, today=monday)

    assert (progress.booked, progress.unbooked, len(progress.sessions)) == (5, 1, 5)


def test_dashboard_lists_a_clinicians_open_courses_flagged_first(clinic, monday):
    quiet = make_course(clinic, make_patient(clinic, last_name="Adams"), planned_sessions=6)
    treat(clinic, quiet, [(monday + timedelta(days=n), BOOKED) for n in (0, 2, 4, 7, 9, 11)])
    flagged = make_course(clinic, make_patient(clinic, last_name="Young"), planned_sessions=6)
    treat(clinic, flagged, [(monday + timedelta(days=n), BOOKED) for n in (1, 3)], hour=12)
    other_clinicians = make_course(clinic, make_patient(clinic, last_name="Brown"), planned_sessions=6)
    treat(clinic, other_clinicians, [], hour=14)
    elsewhere = make_clinic()
    far_away = make_course(elsewhere, make_patient(elsewhere, last_name="Smith"), planned_sessions=6)
    treat(elsewhere, far_away, [(monday, BOOKED)])

    mine = course_list_for_dashboard(user=clinic.clinician.user, today=monday)
    managed = course_list_for_dashboard(user=clinic.manager.user, today=monday)

    assert [(item.course, [flag.kind for flag in item.flags]) for item in mine] == [
        (flagged, ["follow_up"]), (quiet, []),
    ]
    # A manager reaches every location (DESIGN.md, Roles).
    assert [item.course for item in managed] == [other_clinicians, far_away, flagged, quiet]
    assert [item.course for item in course_list_for_dashboard(user=elsewhere.clinician.user)] == [far_away]
    assert course_list_for_dashboard(user=clinic.front_desk.user) == []


def test_flag_has_the_clinics_label():
    assert Flag("no_response", "x").label == "No response"
