"""The progress page, dashboard, CSV and FHIR downloads, and the progress API: who gets in, what
they cost, and what they say."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scheduling.booking.courses import course_start_maintenance
from tests.factories import make_clinic, make_course, superuser
from tests.scheduling.progress_courses import BOOKED, NOSHOW, after, complete, scored, treat

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse 42"


def ten_session_course(clinic, monday):
    course = make_course(clinic, planned_sessions=10)
    offsets = (0, 2, 4, 7, 9, 11, 14, 16, 18, 21)
    appointments = treat(clinic, course, [(monday + timedelta(days=n), scored(4 - min(i // 3, 2),
                                                                                  side_effects=[{"kind": "erythema",
                                                                                                 "grade": 1}]))
                                          for i, n in enumerate(offsets)])
    return course, appointments


def forty_session_maintenance_course(clinic, monday):
    initial = make_course(clinic, planned_sessions=6)
    first = treat(clinic, initial, [(monday + timedelta(days=n), scored(3)) for n in (0, 2, 4, 7, 9, 11)])
    complete(clinic, initial, after(first[-1]))
    with time_machine.travel(after(first[-1]), tick=False):
        course = course_start_maintenance(course=initial, created_by=clinic.clinician.user,
                                          interval_weeks=1, planned_sessions=42)
    start = monday + timedelta(days=14)
    weekdays = [start + timedelta(days=7 * week + weekday) for week in range(8) for weekday in range(5)]
    appointments = treat(clinic, course, [(d, scored(2, side_effects=[{"kind": "tingling", "grade": 1}]))
                                          for d in weekdays])
    return course, appointments


PROGRESS_TABLES = ('FROM "scheduling_course"', 'FROM "scheduling_appointment"', 'FROM "scheduling_sessionsite"',
                   'FROM "scheduling_sideeffect"', 'FROM "clinic_location"')


def progress_queries(captured) -> list[str]:
    """The queries the progress itself makes: the course, its appointments with their records, sites,
    side effects, and the location check."""
    return [q["sql"] for q in captured.captured_queries if any(table in q["sql"] for table in PROGRESS_TABLES)]


def long_queries_of(client, course):
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("progress:course", args=[course.pk]))
    return captured


def signed_in(client, user):
    client.force_login(user)
    return client


def test_progress_page_costs_the_same_queries_for_ten_or_forty_sessions(client, clinic, monday,
                                                                       django_assert_num_queries):
    short, short_appointments = ten_session_course(clinic, monday)
    long, long_appointments = forty_session_maintenance_course(make_clinic(), monday)
    manager = superuser()
    signed_in(client, manager)
    client.get(reverse("progress:dashboard"))  # the session and user are loaded once per request alike

    # The request's own overhead (session, user, middleware) is the project's; the page adds 5.
    with CaptureQueriesContext(connection) as short_queries:
        short_page = client.get(reverse("progress:course", args=[short.pk]))
    with django_assert_num_queries(len(short_queries)):
        long_page = client.get(reverse("progress:course", args=[long.pk]))
    assert len(progress_queries(short_queries)) == len(progress_queries(long_queries_of(client, long))) == 5

    assert (len(short_appointments), len(long_appointments)) == (10, 40)
    assert short_page.status_code == long_page.status_code == 200
    assert short_page.content.count(b'class="status-fulfilled"') == 10
    assert long_page.content.count(b'class="status-fulfilled"') == 40
    assert long_page.content.count(b"<circle ") == 41  # 40 points and the legend's


def test_progress_api_costs_the_same_queries_for_ten_or_forty_sessions(api_client, clinic, monday,
                                                                      django_assert_num_queries):
    short, _ = ten_session_course(clinic, monday)
    long, _ = forty_session_maintenance_course(make_clinic(), monday)
    api_client.force_login(superuser())

    with CaptureQueriesContext(connection) as short_queries:
        short_answer = api_client.get(f"/api/v1/courses/{short.pk}/progress/")
    with django_assert_num_queries(len(short_queries)):
        long_answer = api_client.get(f"/api/v1/courses/{long.pk}/progress/")
    assert len(progress_queries(short_queries)) == 5

    assert (short_answer.status_code, long_answer.status_code) == (200, 200)
    assert (len(short_answer.json()["sessions"]), len(long_answer.json()["sessions"])) == (10, 40)


def test_dashboard_costs_the_same_queries_for_one_or_four_courses(client, clinic, monday, django_assert_num_queries):
    treat(clinic, make_course(clinic, planned_sessions=6), [(monday, scored(4)), (monday + timedelta(days=2), BOOKED)])
    signed_in(client, clinic.clinician.user)
    client.get(reverse("progress:dashboard"))  # the user's location ids are then in the shared cache
    with CaptureQueriesContext(connection) as one_queries:
        one = client.get(reverse("progress:dashboard"))
    for hour in (12, 14, 16):
        treat(clinic, make_course(clinic, planned_sessions=6), [(monday + timedelta(days=1), BOOKED)], hour=hour)
    with django_assert_num_queries(len(one_queries)):
        four = client.get(reverse("progress:dashboard"))
    # Courses, appointments with records, sites, side effects (the user's location ids are in the cache).
    assert len(progress_queries(one_queries)) == 4

    assert one.content.count(b'href="/clinician/courses/') == 1
    assert four.content.count(b'href="/clinician/courses/') == 4


def test_course_page_shows_flags_figures_and_the_chart(client, clinic, monday):
    course = make_course(clinic, planned_sessions=8)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 11)]
    treat(clinic, course, [(days[0], scored(4, current=12)), (days[1], NOSHOW),
                           (days[2], scored(3, current=15, side_effects=[{"kind": "blistering", "grade": 2}])),
                           (days[3], BOOKED)])
    with time_machine.travel(after(course.appointments.order_by("starts_at")[2]), tick=False):
        page = signed_in(client, clinic.clinician.user).get(reverse("progress:course", args=[course.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert page["Content-Type"] == "text/html; charset=utf-8"
    assert html.count('<li data-kind="') == 3
    assert (f'<li data-kind="side_effect"><strong>Side effect</strong> Blistering grade 2 in the last session '
            f'({days[2]:%a %d %b %Y}): consider lowering the current (it was 15.0 mA).</li>') in html
    assert (f'<li data-kind="adherence"><strong>Adherence</strong> 1 missed session ({days[1]:%a %d %b %Y}).</li>'
            in html)
    assert ('<li data-kind="follow_up"><strong>Follow-up due</strong> 5 of 8 planned sessions are not booked.</li>'
            in html)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "@media print" in html
    assert '<div class="value">2</div><div class="name">fulfilled</div>' in html
    assert '<div class="value">1</div><div class="name">no-show</div>' in html
    assert "baseline 4, latest 3, change -1" in html


def test_front_desk_is_refused_every_progress_page_and_export(client, api_client, clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    signed_in(client, clinic.front_desk.user)
    api_client.force_login(clinic.front_desk.user)

    for name in ("progress:course", "progress:course_csv", "progress:course_fhir"):
        assert client.get(reverse(name, args=[course.pk])).status_code == 403
    assert client.get(reverse("progress:dashboard")).status_code == 403
    answer = api_client.get(f"/api/v1/courses/{course.pk}/progress/")
    assert answer.status_code == 403
    assert answer.json()["detail"] == "Only clinicians and managers of this course's location see its progress."


def test_front_desk_gets_the_same_answer_for_a_missing_course_as_for_an_existing_one(client, api_client, clinic):
    course = make_course(clinic, planned_sessions=6)
    signed_in(client, clinic.front_desk.user)
    api_client.force_login(clinic.front_desk.user)
    for course_id in (course.pk, course.pk + 1000):
        for name in ("progress:course", "progress:course_csv", "progress:course_fhir"):
            assert client.get(reverse(name, args=[course_id])).status_code == 403
        assert api_client.get(f"/api/v1/courses/{course_id}/progress/").status_code == 403


def test_clinician_of_another_location_is_not_told_the_course_exists(client, api_client, clinic):
    course = make_course(clinic, planned_sessions=6)
    stranger = make_clinic().clinician.user
    signed_in(client, stranger)
    api_client.force_login(stranger)

    assert client.get(reverse("progress:course", args=[course.pk])).status_code == 404
    assert client.get(reverse("progress:course_fhir", args=[course.pk])).status_code == 404
    assert api_client.get(f"/api/v1/courses/{course.pk}/progress/").status_code == 404


def test_manager_and_superuser_see_the_progress(client, clinic):
    course = make_course(clinic, planned_sessions=6)
    for user in (clinic.manager.user, superuser()):
        signed_in(client, user)
        assert client.get(reverse("progress:course", args=[course.pk])).status_code == 200


def test_unknown_course_is_not_found_and_a_stranger_is_sent_to_sign_in(client, api_client, clinic):
    course = make_course(clinic, planned_sessions=6)
    anonymous = client.get(reverse("progress:course", args=[course.pk]))
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/admin/login/?next=/clinician/courses/{course.pk}/"
    signed_in(client, clinic.clinician.user)
    api_client.force_login(clinic.clinician.user)
    assert client.get(reverse("progress:course", args=[course.pk + 1000])).status_code == 404
    missing = api_client.get(f"/api/v1/courses/{course.pk + 1000}/progress/")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No course with this id."


def test_csv_lists_every_session_with_its_figures(client, clinic, monday):
    course = make_course(clinic, medicated=True, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4)]
    treat(clinic, course, [(days[0], scored(6, current=2, note="=HYPERLINK(\"x\")")),
                           (days[1], scored(4, current=3, side_effects=[{"kind": "erythema", "grade": 1}])),
                           (days[2], BOOKED)])
    signed_in(client, clinic.clinician.user)

    answer = client.get(reverse("progress:course_csv", args=[course.pk]))

    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"] == f'attachment; filename="course-{course.pk}-sessions.csv"'
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    clinician = str(clinic.clinician)
    assert rows == [
        ["session", "date", "start", "status", "clinician", "sites and current (mA)", "highest current (mA)",
         "minutes of current", "waveform", "polarity reversed", "medium", "dose (mA·min)",
         "cumulative dose (mA·min)", "HDSS", "pain (NPRS)", "sweat (mg/min)", "sweat site", "side effects", "note",
         "reported by"],
        ["1", days[0].isoformat(), "10:00", "Fulfilled", clinician, "left lateral epicondyle 2.0", "2.0", "20",
         "Direct current", "no", "Drug solution", "40.0", "40.0", "", "6", "", "", "", "'=HYPERLINK(\"x\")",
         "clinic"],
        ["2", days[1].isoformat(), "10:00", "Fulfilled", clinician, "left lateral epicondyle 3.0", "3.0", "20",
         "Direct current", "no", "Drug solution", "60.0", "100.0", "", "4", "", "", "Erythema grade 1", "", "clinic"],
        ["", days[2].isoformat(), "10:00", "Booked", clinician, "", "", "", "", "", "", "", "", "", "", "", "", "",
         "", "clinic"],
    ]


def test_fhir_download_is_a_bundle_for_clinicians(client, clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    treat(clinic, course, [(monday, scored(4))])
    signed_in(client, clinic.clinician.user)

    answer = client.get(reverse("progress:course_fhir", args=[course.pk]))

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/fhir+json"
    assert answer["Content-Disposition"] == f'attachment; filename="course-{course.pk}-fhir.json"'
    body = answer.json()
    assert (body["resourceType"], body["type"], len(body["entry"])) == ("Bundle", "collection", 6)


def test_progress_api_answers_the_figures_and_flags(api_client, clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2)]
    treat(clinic, course, [(days[0], scored(4, current=12)), (days[1], scored(3, current=14, sweat=80))])
    with time_machine.travel(after(course.appointments.order_by("starts_at")[1]), tick=False):
        api_client.force_login(clinic.clinician.user)
        body = api_client.get(f"/api/v1/courses/{course.pk}/progress/").json()

    sessions = body.pop("sessions")
    assert body == {
        "course": course.pk, "patient": course.patient_id, "indication": "hyperhidrosis", "phase": "initial",
        "status": "active", "as_of": days[1].isoformat(), "planned": 6, "booked": 0, "fulfilled": 2,
        "cancelled": 0, "noshow": 0, "unbooked": 4, "planned_gap_days": 3, "long_gaps": [],
        "cumulative_dose_ma_min": None, "maintenance_due_on": None,
        "outcome": {"measure": "hdss", "label": "HDSS (1-4)", "baseline": "4.0", "latest": "3.0", "change": "-1.0",
                    "points": [{"number": 1, "date": days[0].isoformat(), "value": "4.0"},
                               {"number": 2, "date": days[1].isoformat(), "value": "3.0"}]},
        "sweat": {"measure": "sweat_mg_min", "label": "Sweat rate (mg/min)", "baseline": "80.0", "latest": "80.0",
                  "change": "0.0", "points": [{"number": 2, "date": days[1].isoformat(), "value": "80.0"}]},
        "flags": [{"kind": "follow_up", "label": "Follow-up due",
                   "message": "4 of 6 planned sessions are not booked."}],
        "reported": [],  # no check-in answered (tests/scheduling/test_check_ins.py)
    }
    assert [(s["number"], s["date"], s["status"], s["current_ma"], s["hdss"], s["days_since_previous"])
            for s in sessions] == [(1, days[0].isoformat(), "fulfilled", "12.0", 4, None),
                                   (2, days[1].isoformat(), "fulfilled", "14.0", 3, 2)]
    assert sessions[1] == {
        "appointment_id": sessions[1]["appointment_id"], "number": 2, "date": days[1].isoformat(),
        "starts_at": sessions[1]["starts_at"], "status": "fulfilled", "clinician": str(clinic.clinician),
        "sites": [{"site": "palms", "label": "Palms", "current_ma": "14.0"}], "current_ma": "14.0",
        "minutes_of_current": 20, "waveform": "Direct current", "polarity_reversed": False, "medium": "Tap water",
        "dose_ma_min": None, "cumulative_dose_ma_min": None, "hdss": 3, "pain_nprs": None, "sweat_mg_min": "80.0",
        "sweat_site": "Palms", "side_effects": [], "note": "", "days_since_previous": 2,
    }
    assert sessions[1]["starts_at"] == f"{clinic.at(days[1], 10).astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def test_progress_endpoint_is_in_the_openapi_schema(api_client, clinic):
    api_client.force_login(clinic.clinician.user)
    schema = api_client.get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/courses/{course_id}/progress/"]["get"]
    assert operation["operationId"] == "course_progress"
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CourseProgress"
    }
    fields = schema["components"]["schemas"]["CourseProgress"]["properties"]
    assert {"planned", "booked", "fulfilled", "cancelled", "noshow", "unbooked", "flags", "sessions",
            "outcome"} <= set(fields)


def test_medicated_course_page_shows_doses_and_a_pain_chart(client, clinic, monday):
    course = make_course(clinic, medicated=True, planned_sessions=6)
    treat(clinic, course, [(monday, scored(7, current=2)), (monday + timedelta(days=2), scored(5, current=3))])

    with time_machine.travel(after(course.appointments.order_by("starts_at")[1]), tick=False):
        page = signed_in(client, clinic.clinician.user).get(reverse("progress:course", args=[course.pk]))
    html = page.content.decode()

    assert '<div class="value">100.0</div><div class="name">mA·min in all</div>' in html
    assert '<th class="num">Dose mA·min</th><th class="num">Cumulative</th>' in html
    assert '<td class="num">60.0</td><td class="num">100.0</td>' in html
    assert "baseline 7, latest 5, change -2" in html
    assert "<title id=\"chart-title\">Pain (NPRS) and current over 2 recorded sessions</title>" in html
    assert "response at 5 or lower" in html
    assert '<p class="noflags">Nothing flagged.</p>' not in html  # 4 of 6 sessions are not booked
    assert "sites: left lateral epicondyle" in html


def test_course_without_sessions_has_no_chart_yet(client, clinic):
    course = make_course(clinic, planned_sessions=6)

    html = signed_in(client, clinic.clinician.user).get(reverse("progress:course", args=[course.pk])).content.decode()

    assert "<svg" not in html
    assert "The chart appears once a session is recorded." in html
    assert "HDSS (1-4)</strong>:\n    no score recorded yet." in html
    assert '<td colspan="12" class="muted">No session booked yet.</td>' in html


def test_course_number_beyond_any_id_is_not_found(client, api_client, clinic):
    huge = 10**30
    signed_in(client, clinic.clinician.user)
    api_client.force_login(clinic.clinician.user)

    assert client.get(f"/clinician/courses/{huge}/").status_code == 404
    assert client.get(f"/clinician/courses/{huge}/fhir.json").status_code == 404
    assert api_client.get(f"/api/v1/courses/{huge}/progress/").status_code == 404
