"""Counted weeks: the utilization and attendance reports read a week's kept counts, and give the same
figures as from the sessions; a change to any session of a week (whoever makes it) forgets that week's
counts."""

from datetime import UTC, date, datetime, timedelta

import pytest

from clinic.models import Location
from scheduling.models import Appointment, AttendanceCount, UsageCount, UsageWeek
from scheduling.reports.period import ReportPeriod, days_not_in, local_days_q
from scheduling.reports.selectors import report_attendance, report_period, report_utilization
from scheduling.reports.usage import usage_weeks_count
from scheduling.tasks import usage_weeks_count_task
from tests.conftest import made_once
from tests.factories import make_clinic, make_course
from tests.scheduling.report_clinics import END, START, attendance_clinic, booked_early, noshow, on
from tests.scheduling.test_reports import period_for

pytestmark = pytest.mark.django_db

WEEK_1, WEEK_2 = date(2026, 10, 19), date(2026, 10, 26)
AFTER_BOTH = datetime(2026, 11, 10, 12, tzinfo=UTC)


def figures(period):
    usage, attendance = report_utilization(period=period), report_attendance(period=period)
    return (usage.weekly, usage.totals, usage.heat, usage.summary, attendance.total, attendance.weekly,
            attendance.by_clinician, attendance.by_location, attendance.repeat_noshows, attendance.confirmed_by_link,
            attendance.confirmed, attendance.unconfirmed)


def forget_every_week():
    UsageWeek.objects.all().delete()
    UsageCount.objects.all().delete()
    AttendanceCount.objects.all().delete()


def counted_weeks(clinic) -> set[date]:
    return set(UsageWeek.objects.filter(location=clinic.location).values_list("week", flat=True))


rows_made_once, riverside = made_once(attendance_clinic)  # each test rolled back to the clinic


def test_a_report_from_counted_weeks_is_the_report_from_the_sessions(riverside):
    clinic, _ = riverside
    from_sessions = figures(period_for(clinic))
    assert usage_weeks_count(now=AFTER_BOTH) >= 2
    assert {WEEK_1, WEEK_2} <= counted_weeks(clinic)
    assert AttendanceCount.objects.filter(location=clinic.location, week=WEEK_2).exists()
    assert figures(period_for(clinic)) == from_sessions
    # A period that starts inside a counted week counts that week's days from the sessions.
    part = report_period(user=clinic.manager.user, start=date(2026, 10, 21), end=END, location_id=clinic.location.pk)
    forget_every_week()
    part_from_sessions = figures(part)
    usage_weeks_count(now=AFTER_BOTH)
    assert figures(part) == part_from_sessions
    assert part_from_sessions != from_sessions  # Monday and Tuesday's sessions are left out


def test_the_reports_read_the_kept_counts(riverside):
    clinic, sessions = riverside
    usage_weeks_count(now=AFTER_BOTH)
    room = sessions["b2"].room_id  # Room 2, week 2: b2 fulfilled and b4 a no-show, 60 minutes booked
    kept = UsageCount.objects.get(location=clinic.location, week=WEEK_2, kind="room", resource_id=room)
    assert (kept.sessions, kept.booked_minutes, kept.fulfilled_minutes) == (2, 60, 30)
    UsageCount.objects.filter(pk=kept.pk).update(booked_minutes=90)
    weekly = {(row.kind, row.label, row.week): row.booked_minutes
              for row in report_utilization(period=period_for(clinic)).weekly}
    assert weekly[("room", "Room 2", WEEK_2)] == 90
    # Week 2 of the second clinician, none confirmed: b2 attended, a4 a no-show, b3 cancelled early, a5 late.
    second = clinic.clinicians[1]
    kept = AttendanceCount.objects.get(location=clinic.location, week=WEEK_2, clinician=second, confirmed=False)
    assert (kept.sessions, kept.attended, kept.noshows, kept.cancelled, kept.late_cancellations) == (4, 1, 1, 2, 1)
    AttendanceCount.objects.filter(pk=kept.pk).update(noshows=3)
    by_clinician = {row.label: row.noshows for row in report_attendance(period=period_for(clinic)).by_clinician}
    assert by_clinician[str(second)] == 3


def test_every_week_with_sessions_is_counted_once_until_one_changes(riverside):
    clinic, sessions = riverside
    # Wednesday of week 2: the week under way and those to come are counted too (kept until one changes).
    wednesday_of_week_2 = datetime(2026, 10, 28, 12, tzinfo=UTC)
    assert usage_weeks_count(now=wednesday_of_week_2) >= 2
    assert {WEEK_1, WEEK_2} <= counted_weeks(clinic)
    weeks = UsageWeek.objects.count()
    assert usage_weeks_count(now=wednesday_of_week_2) == 0
    Appointment.objects.filter(pk=sessions["b2"].pk).update(room=clinic.rooms[0])  # week 2 forgotten
    assert WEEK_2 not in counted_weeks(clinic)
    assert usage_weeks_count(now=wednesday_of_week_2) == 1
    assert UsageWeek.objects.count() == weeks and WEEK_2 in counted_weeks(clinic)


def test_a_change_to_a_session_forgets_its_week_whoever_makes_it(riverside):
    clinic, sessions = riverside
    usage_weeks_count(now=AFTER_BOTH)
    # A session booked late into week 1 (an insert), then marked a no-show (an update).
    course = sessions["a1"].course
    late = booked_early(clinic, course, date(2026, 10, 22), 15)
    assert counted_weeks(clinic) >= {WEEK_2} and WEEK_1 not in counted_weeks(clinic)
    assert not UsageCount.objects.filter(location=clinic.location, week=WEEK_1).exists()
    usage_weeks_count(now=AFTER_BOTH)
    noshow(clinic, late)
    assert WEEK_1 not in counted_weeks(clinic)
    assert not AttendanceCount.objects.filter(location=clinic.location, week=WEEK_1).exists()
    with_counts = figures(period_for(clinic))
    usage_weeks_count(now=AFTER_BOTH)
    assert figures(period_for(clinic)) == with_counts
    # A write outside the services: moving week 2's no-show to another room, straight in the table.
    Appointment.objects.filter(pk=sessions["b4"].pk).update(room=clinic.rooms[0])
    assert WEEK_2 not in counted_weeks(clinic) and WEEK_1 in counted_weeks(clinic)
    forget_every_week()
    from_sessions = figures(period_for(clinic))
    usage_weeks_count(now=AFTER_BOTH)
    assert figures(period_for(clinic)) == from_sessions


def test_at_several_locations_each_ones_days_not_kept_are_counted_from_its_sessions(riverside):
    """A week kept at one location and forgotten at another, in one report of every location."""
    clinic, _ = riverside
    hillside = make_clinic(name="Hillside", time_zone="America/Toronto")
    with on(datetime(2026, 10, 1, 12, tzinfo=UTC)):
        course = make_course(hillside)
    for day in (date(2026, 10, 20), date(2026, 10, 27), date(2026, 10, 29)):
        booked_early(hillside, course, day, 9)
    everywhere = report_period(user=clinic.admin, start=START, end=END)
    assert set(everywhere.location_ids) >= {clinic.location.pk, hillside.location.pk}
    from_sessions = figures(everywhere)
    usage_weeks_count(now=AFTER_BOTH)
    UsageWeek.objects.filter(location=clinic.location, week=WEEK_2).delete()  # as the trigger forgets it
    assert figures(everywhere) == from_sessions
    by_location = {row.label: row.sessions for row in report_attendance(period=everywhere).by_location}
    assert by_location["Hillside"] == 3


def test_the_days_not_kept_at_a_thousand_locations_make_a_term_per_week_not_per_location():
    """PostgreSQL tests each term of the filter on every row it reads: at 1,000 locations one term per
    location (and run of weeks) made the attendance report count its live days for minutes."""
    period = ReportPeriod(start=date(2026, 11, 4), end=date(2026, 11, 30), location=None,
                          location_ids=tuple(range(1, 1001)))
    second_week = date(2026, 11, 9)
    days = days_not_in(period, {(location_id, second_week) for location_id in range(1, 501)})
    assert len(days) == 1000 * 5 - 500
    terms = local_days_q(days).children
    # Wed 4 to Sun 8 everywhere; the second week where it is not kept; the 16th to the 30th everywhere.
    assert [(dict(term.children)["local_date__range"], len(dict(term.children)["location_id__in"]))
            for term in terms] == [((date(2026, 11, 4), date(2026, 11, 8)), 1000),
                                   ((second_week, second_week + timedelta(days=6)), 500),
                                   ((date(2026, 11, 16), date(2026, 11, 30)), 1000)]


@pytest.mark.parametrize("change", [{"time_zone": "Europe/Dublin"}, {"late_cancellation_hours": 12}])
def test_a_new_time_zone_or_late_window_forgets_the_locations_weeks(riverside, change):
    clinic, _ = riverside
    usage_weeks_count(now=AFTER_BOTH)
    Location.objects.filter(pk=clinic.location.pk).update(name="Riverside North")
    assert {WEEK_1, WEEK_2} <= counted_weeks(clinic)
    Location.objects.filter(pk=clinic.location.pk).update(**change)
    assert counted_weeks(clinic) == set()
    assert not UsageCount.objects.filter(location=clinic.location).exists()
    assert not AttendanceCount.objects.filter(location=clinic.location).exists()


def test_the_hourly_task_counts_the_weeks(riverside, settings):
    clinic, _ = riverside
    assert settings.CELERY_BEAT_SCHEDULE["usage-weeks-count"]["task"] == usage_weeks_count_task.name
    assert usage_weeks_count_task(now=AFTER_BOTH.isoformat()) >= 2
    assert {WEEK_1, WEEK_2} <= counted_weeks(clinic)
    assert usage_weeks_count_task(now=AFTER_BOTH.isoformat()) == 0
