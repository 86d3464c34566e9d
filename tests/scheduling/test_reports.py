"""The managers' reports: each figure on a clinic whose right answer is worked out here by hand."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.services import patient_update
from scheduling.reports.selectors import (
    REPORTS,
    report_attendance,
    report_outcomes,
    report_period,
    report_reminders,
    report_utilization,
)
from tests.conftest import made_once, suite_today
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.report_clinics import END, START, attendance_clinic, booked_early, outcomes_clinic, record
from tests.scheduling.test_notifications import mail, send_due  # noqa: F401  (the SMTP server fixture)

pytestmark = pytest.mark.django_db

# Open minutes of a room in the first week (19-25 Oct): six days of 08:00-20:00 (6 x 720) and the
# Sunday night of the clock change, 00:30 BST to 03:30 GMT: four hours though the wall clock says three.
WEEK_1_OPEN = 6 * 720 + 240
# The second week (26 Oct - 1 Nov): six days and an ordinary Sunday night of three hours.
WEEK_2_OPEN = 6 * 720 + 180


rows_made_once, riverside = made_once(attendance_clinic)  # each test rolled back to the clinic


def period_for(clinic, **kwargs):
    return report_period(user=clinic.manager.user, start=START, end=END, location_id=clinic.location.pk, **kwargs)


def test_utilization_of_several_locations_has_a_row_per_location_summing_its_resources(riverside, client):
    """Over several locations a row is a location's rooms, devices or clinicians together, with the sums of
    that location's own report (its resources, by week); the page names the locations and lists no weeks."""
    from datetime import UTC, datetime

    from tests.scheduling.report_clinics import on

    clinic, _ = riverside
    hillside = make_clinic(name="Hillside", time_zone="America/Toronto")
    with on(datetime(2026, 10, 1, 12, tzinfo=UTC)):
        course = make_course(hillside)
    booked_early(hillside, course, date(2026, 10, 20), 10)
    every = report_period(user=clinic.admin, start=START, end=END)
    assert every.several_locations and {clinic.location.pk, hillside.location.pk} <= set(every.location_ids)
    expected: dict[tuple, list[int]] = {}
    for location_id in every.location_ids:
        one = report_utilization(period=report_period(user=clinic.admin, start=START, end=END,
                                                      location_id=location_id))
        for row in one.weekly:
            sums = expected.setdefault((row.kind, location_id, row.week), [0, 0, 0])
            for index, figure in enumerate((row.open_minutes, row.booked_minutes, row.fulfilled_minutes)):
                sums[index] += figure
    report = report_utilization(period=every)
    assert {(row.kind, row.location_id, row.week): [row.open_minutes, row.booked_minutes, row.fulfilled_minutes]
            for row in report.weekly} == expected
    assert expected[("room", hillside.location.pk, START)][1] == 30  # the Toronto session, in its room
    assert {row.resource_id for row in [*report.weekly, *report.totals]} == {None}
    assert {(row.kind, row.label) for row in report.totals} >= {
        ("room", "Riverside"), ("device", "Hillside"), ("clinician", "Hillside")}

    client.force_login(clinic.admin)
    query = f"?start={START}&end={END}"
    page = client.get(f"/clinician/reports/utilization/{query}").content.decode()
    assert 'id="utilization-by-location"' in page and "<th>Location</th>" in page and "Room 1" not in page
    assert "whole period" in page and "19 Oct 2026" not in page.split('id="utilization-by-location"')[1]
    csv = client.get(f"/clinician/reports/utilization.csv{query}").content.decode()
    assert "rooms at Hillside" in csv and "room: Room 1" not in csv
    answer = client.get(f"/api/v1/reports/utilization/{query}").json()
    hillside_rooms = next(row for row in answer["totals"] if row["label"] == "Hillside" and row["kind"] == "room")
    assert (hillside_rooms["resource_id"], hillside_rooms["location_id"]) == (None, hillside.location.pk)


def test_utilization_counts_open_minutes_across_the_clock_change_and_closures(riverside):
    clinic, _ = riverside
    report = report_utilization(period=period_for(clinic))
    weekly = {(row.kind, row.label, row.week): (row.open_minutes, row.booked_minutes, row.fulfilled_minutes)
              for row in report.weekly}
    week_1, week_2 = date(2026, 10, 19), date(2026, 10, 26)
    # Room 1: its own closures (120 min on Tuesday; 08:30-09:30 on Wednesday, which with the location's
    # 08:00-09:00 closes 90 minutes, not 120). Booked: a1 (fulfilled) and a2 (no-show); then a4 (no-show),
    # a5 was cancelled and counts nowhere.
    assert weekly[("room", "Room 1", week_1)] == (WEEK_1_OPEN - 120 - 90, 60, 30)
    assert weekly[("room", "Room 1", week_2)] == (WEEK_2_OPEN, 30, 0)
    # Room 2: only the location's hour. a3 and b1 fulfilled; then b2 fulfilled and b4 a no-show.
    assert weekly[("room", "Room 2", week_1)] == (WEEK_1_OPEN - 60, 60, 60)
    assert weekly[("room", "Room 2", week_2)] == (WEEK_2_OPEN, 60, 30)
    device_1, device_2 = (str(device) for device in clinic.devices)
    assert weekly[("device", device_1, week_1)] == (WEEK_1_OPEN - 60, 60, 30)
    assert weekly[("device", device_2, week_2)] == (WEEK_2_OPEN, 60, 30)
    first, second = (str(clinician) for clinician in clinic.clinicians)
    assert weekly[("clinician", first, week_1)] == (WEEK_1_OPEN - 60, 90, 60)
    assert weekly[("clinician", first, week_2)] == (WEEK_2_OPEN, 30, 0)
    assert weekly[("clinician", second, week_1)] == (WEEK_1_OPEN - 60, 30, 30)
    assert weekly[("clinician", second, week_2)] == (WEEK_2_OPEN, 60, 30)
    room_1 = next(row for row in report.by_kind("room") if row.label == "Room 1")
    assert (room_1.open_minutes, room_1.booked_minutes, room_1.fulfilled_minutes) == (
        WEEK_1_OPEN - 210 + WEEK_2_OPEN, 90, 30)
    assert report.summary["room_booked_minutes"] == 210
    assert report.summary["room_open_minutes"] == 2 * (WEEK_1_OPEN + WEEK_2_OPEN) - 270
    # Monday 09:00 is 08:00 UTC on 19 Oct (summer time) and 09:00 UTC on 26 Oct: the same local hour.
    assert report.heat == {(1, 9): 2, (3, 10): 1, (5, 9): 2, (6, 9): 1, (2, 10): 1}


def test_attendance_rates_count_a_late_cancellation_only_inside_the_window(riverside):
    clinic, sessions = riverside
    report = report_attendance(period=period_for(clinic))
    total = report.total
    # Nine sessions: four attended, three no-shows (a2, a4, b4), two cancelled by the patient: a5 13 hours
    # before (inside the 24-hour window: late) and b3 three days before (not late).
    assert (total.sessions, total.attended, total.noshows, total.cancelled, total.late_cancellations) == (9, 4, 3, 2, 1)
    assert total.noshow_percent == 33.3 and total.late_cancellation_percent == 11.1
    assert [(row.label, row.sessions, row.noshows, row.late_cancellations) for row in report.weekly] == [
        ("19 Oct 2026", 4, 1, 0), ("26 Oct 2026", 5, 2, 1)]
    first, second = (str(clinician) for clinician in clinic.clinicians)
    assert {row.label: (row.sessions, row.noshows, row.cancelled, row.late_cancellations)
            for row in report.by_clinician} == {first: (4, 2, 0, 0), second: (5, 1, 2, 1)}
    assert [(row.label, row.sessions) for row in report.by_location] == [("Riverside", 9)]
    assert report.repeat_noshows == [{"patient_id": sessions["a1"].patient_id, "name": "Ada Often", "noshows": 2}]
    # b1 confirmed by the email's link, b4 by phone (and then did not come).
    assert report.confirmed_by_link == 1
    assert (report.confirmed.sessions, report.confirmed.noshows, report.confirmed.noshow_percent) == (2, 1, 50.0)
    assert (report.unconfirmed.sessions, report.unconfirmed.noshows) == (7, 2)


def test_outcomes_response_median_side_effects_and_maintenance():
    clinic, courses = outcomes_clinic()
    report = report_outcomes(period=period_for(clinic))
    rows = {row["indication"]: row for row in report.by_indication}
    # A, B, D, F started in the period (E in September); C is the medicated one.
    assert {name: (row["started"], row["completed"], row["discontinued"]) for name, row in rows.items()} == {
        "hyperhidrosis": (4, 3, 1), "musculoskeletal": (1, 1, 0)}
    assert report.discontinued_reasons == [{"reason": "No improvement", "courses": 1}]
    # Hyperhidrosis: A 4 -> 3 (responded at its 2nd session), B 3 -> 3 (did not), D 3 -> 2 (2nd session),
    # F one score only: ended, not judged.
    # Musculoskeletal: C 7 -> 4, a fall of 3 (2 needed), first reached at its 3rd session (7 -> 4).
    responses = {row.indication: (row.ended, row.judged, row.responded, row.response_percent,
                                  row.median_sessions_to_response) for row in report.responses}
    assert responses == {"hyperhidrosis": (4, 3, 2, 66.7, 2.0), "musculoskeletal": (1, 1, 1, 100.0, 3.0)}
    # 13 sessions recorded in the period (E's was in September): three side effects, each 1 in 13.
    assert report.sessions == 13
    assert [(row["kind"], row["grade"], row["count"], row["per_100_sessions"]) for row in report.side_effects] == [
        ("erythema", 1, 1, 7.7), ("erythema", 2, 1, 7.7), ("tingling", 1, 1, 7.7)]
    # Of the three completed initial hyperhidrosis courses (A, D, F), D went on to maintenance.
    assert (rows["hyperhidrosis"]["completed_initial"], rows["hyperhidrosis"]["maintenance_started"],
            rows["hyperhidrosis"]["maintenance_percent"]) == (3, 1, 33.3)
    assert report.summary == {"started": 5, "completed": 4, "response_percent": 75.0}


def test_period_defaults_to_the_last_four_weeks_and_refuses_bad_ranges(riverside):
    clinic, _ = riverside
    period = report_period(user=clinic.manager.user)
    today = suite_today()  # a Monday: Mon 7 Dec 2026 gives 9 Nov to 6 Dec, and 12 Oct to 8 Nov before it
    assert (period.start, period.end) == (today - timedelta(weeks=4), today - timedelta(days=1))
    assert (period.previous.start, period.previous.end) == (today - timedelta(weeks=8),
                                                            today - timedelta(weeks=4, days=1))
    with pytest.raises(ValidationError) as refused:
        report_period(user=clinic.manager.user, start=END, end=START)
    assert refused.value.message_dict == {"end": ["The end (19 Oct 2026) is before the start (01 Nov 2026)."]}
    with pytest.raises(ValidationError) as refused:
        report_period(user=clinic.manager.user, location_id=999999)
    assert refused.value.message_dict == {"location": ["There is no location 999999."]}


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_other_roles_are_refused(riverside, role):
    clinic, _ = riverside
    user = clinic.front_desk.user if role == "front_desk" else clinic.clinician.user
    with pytest.raises(PermissionDenied):
        report_period(user=user)


def test_reminders_sent_failed_by_reason_waiting_and_unsubscribed(mail):  # noqa: F811
    clinic = make_clinic(name="Seaside")
    elsewhere = make_clinic(name="Inland")
    monday = next_weekday(0)
    refused = make_patient(clinic, email="nobody@example.org")
    patients = [make_patient(clinic), refused, make_patient(clinic)]
    for hour, patient in enumerate(patients, start=9):
        book(clinic, make_course(clinic, patient), clinic.at(monday, hour))
    other = make_patient(elsewhere)
    mail.refused_recipients = {"nobody@example.org"}
    send_due(timezone.now())
    patient_update(patient=patients[2], updated_by=None, email_consent=False)
    patient_update(patient=other, updated_by=elsewhere.front_desk.user, email_consent=False)
    today = timezone.localdate()
    report = report_reminders(period=report_period(user=clinic.manager.user, start=today, end=today,
                                                   location_id=clinic.location.pk))
    confirmations = next(row for row in report.by_kind if row["kind"] == "booking_confirmation")
    assert (confirmations["sent"], confirmations["failed"], confirmations["waiting"]) == (2, 1, 0)
    assert report.failed_by_reason == [{"reason": "Recipient refused", "messages": 1}]
    assert report.unsubscribed == 1
    assert report.summary["failed_percent"] == 33.3
    # The reminders fall due 24 hours before Monday's sessions: in a period that reaches them, waiting.
    week = report_reminders(period=report_period(user=clinic.manager.user, start=today, end=monday))
    # The patients' baseline check-ins fall due the day before at 10:00: waiting too, under their own kind.
    assert week.totals == {"sent": 2, "failed": 1, "bounced": 0, "cancelled": 0, "waiting": 6}
    assert next(row for row in week.by_kind if row["kind"] == "check_in")["waiting"] == 3
    assert week.unsubscribed == 2  # every location: the other clinic's patient too


def _queries(function, period) -> int:
    with CaptureQueriesContext(connection) as captured:
        function(period=period)
    return len(captured.captured_queries)


def test_each_report_costs_the_same_queries_whatever_the_data(riverside):
    clinic, _ = riverside
    period = period_for(clinic)
    before = {name: _queries(function, period) for name, (_, function) in REPORTS.items()}
    assert before == {"utilization": 2, "attendance": 4, "outcomes": 5, "reminders": 4}
    outcomes_clinic()  # four more courses, twelve more sessions with side effects, at another location
    more = make_course(clinic, make_patient(clinic))
    for day in (date(2026, 10, 20), date(2026, 10, 22), date(2026, 10, 27)):
        record(clinic, booked_early(clinic, more, day, 15, room=1, device=1), hdss=2)
    everywhere = report_period(user=clinic.manager.user, start=START, end=END)
    assert {name: _queries(function, everywhere) for name, (_, function) in REPORTS.items()} == before
    assert {name: _queries(function, period) for name, (_, function) in REPORTS.items()} == before


def test_pages_show_each_report_with_charts_and_tables_to_a_manager(riverside, client):
    clinic, _ = riverside
    client.force_login(clinic.manager.user)
    query = f"?start={START}&end={END}&location={clinic.location.pk}"
    for name in REPORTS:
        page = client.get(f"/clinician/reports/{name}/{query}")
        assert page.status_code == 200, name
        assert page.content.decode().count("<svg") >= 1
    text = client.get(f"/clinician/reports/attendance/{query}").content.decode()
    assert "Ada Often" in text and "33.3" in text and "11.1" in text
    assert client.get("/clinician/reports/").url == "/clinician/reports/utilization/"
    refused = client.get(f"/clinician/reports/attendance/?start={END}&end={START}")
    assert refused.status_code == 400
    assert "The end (19 Oct 2026) is before the start (01 Nov 2026)." in refused.content.decode()
