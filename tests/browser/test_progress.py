"""A clinician opens a course's progress in Chromium: flags, figures and the chart, on screen and in print."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from scheduling.booking.courses import course_complete
from scheduling.checkins.models import CheckIn, CheckInPurpose
from scheduling.checkins.services import check_in_answer
from tests.browser_support import ARTIFACTS, login, screenshot
from tests.factories import make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.progress_courses import BOOKED, NOSHOW, after, scored, treat

pytestmark = pytest.mark.django_db(transaction=True)


def test_clinician_reads_a_course_with_its_chart_on_screen_and_in_print(page, live_server):
    clinic = make_clinic()
    monday = next_weekday(0)
    patient = make_patient(clinic, first_name="Robin", last_name="Hale")
    course = make_course(clinic, patient, planned_sessions=10, body_sites=["palms", "soles"])
    offsets = (0, 2, 4, 7, 9, 11, 14, 18, 21, 23)
    hdss = [4, 4, 3, None, 3, 3, 2, 2]
    visits = []
    recorded = 0
    for offset, score in zip(offsets, hdss, strict=False):
        if score is None:
            visits.append((monday + timedelta(days=offset), NOSHOW))
            continue
        current = 10 + recorded
        effects = [{"kind": "tingling", "grade": 1}]
        if recorded == 6:
            effects = [{"kind": "blistering", "grade": 2}]
        visits.append((monday + timedelta(days=offset), scored(score, sites=[
            {"site": "palms", "current_ma": current}, {"site": "soles", "current_ma": current + 2}],
            side_effects=effects, sweat=120 - 12 * recorded if recorded % 2 == 0 else None)))
        recorded += 1
    visits.append((monday + timedelta(days=offsets[8]), BOOKED))
    appointments = treat(clinic, course, visits)

    with time_machine.travel(after(appointments[7]) + timedelta(hours=1), tick=True):
        login(page, live_server, clinic.clinician.user.username, "correct horse 42")
        page.goto(f"{live_server.url}/clinician/")
        assert page.locator("#courses tbody tr").count() == 1
        assert page.locator("#courses .badge").all_inner_texts() == ["Side effect", "Adherence", "Follow-up due"]
        screenshot(page, "clinician-dashboard")
        page.click("text=Robin Hale")
        page.wait_for_url(f"{live_server.url}/clinician/courses/{course.pk}/")

        chart = page.locator("svg.chart")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 700 and box["height"] > 250
        assert page.locator("svg.chart circle").count() == 8  # 7 scores and the legend's
        assert page.locator("svg.chart polyline.series-current").is_visible()
        assert page.locator("#flags li").all_inner_texts() == [
            f"Side effect Blistering grade 2 in the last session ({monday + timedelta(days=18):%a %d %b %Y}): "
            "consider lowering the current (it was 18.0 mA).",
            f"Adherence 1 missed session ({monday + timedelta(days=7):%a %d %b %Y}).",
            "Follow-up due 2 of 10 planned sessions are not booked.",
        ]
        assert page.locator("#sessions tbody tr").count() == 9
        screenshot(page, "course-progress")

        page.emulate_media(media="print")
        assert page.locator("header.top").is_hidden()
        assert chart.is_visible()
        screenshot(page, "course-progress-print")
        ARTIFACTS.mkdir(exist_ok=True)
        page.pdf(path=str(ARTIFACTS / "course-progress.pdf"), format="A4", landscape=True, print_background=True)
        assert (ARTIFACTS / "course-progress.pdf").stat().st_size > 10_000


def test_progress_shows_the_clinicians_and_the_patients_scores_apart_on_screen_and_in_print(page, live_server):
    """A completed course whose patient answered two check-ins: the chart has both markers and a legend,
    the table lists the answers, and both stay readable with print media."""
    clinic = make_clinic()
    monday = next_weekday(0)
    patient = make_patient(clinic, first_name="Sam", last_name="Marsh")
    course = make_course(clinic, patient, planned_sessions=6)
    appointments = treat(clinic, course, [(monday + timedelta(days=offset), scored(score))
                                          for offset, score in zip((0, 2, 4, 7, 9, 11), (4, 3, 3, 2, 2, 1),
                                                                   strict=True)])
    with time_machine.travel(after(appointments[-1]), tick=False):
        course_complete(course=course, completed_by=clinic.clinician.user)
    answers = CheckIn.objects.filter(course=course, purpose=CheckInPurpose.AFTER_COURSE).order_by("weeks_after")
    for check_in, score in zip(answers[:2], (2, 3), strict=True):
        with time_machine.travel(check_in.due_at + timedelta(hours=2), tick=False):
            check_in_answer(check_in=check_in, score=score, skin_reaction="blisters" if score == 3 else "none")

    with time_machine.travel(answers[1].due_at + timedelta(hours=3), tick=True):
        login(page, live_server, clinic.clinician.user.username, "correct horse 42")
        page.goto(f"{live_server.url}/clinician/")
        row = page.locator("#courses tbody tr", has_text="Sam Marsh")
        assert "Sweating returned" in row.locator(".badge").all_inner_texts()
        page.goto(f"{live_server.url}/clinician/courses/{course.pk}/")
        chart = page.locator("svg.chart")
        assert page.locator("svg.chart circle").count() == 7  # 6 recorded scores and the legend's
        assert page.locator("svg.chart path.marker-reported").count() == 3  # 2 answers and the legend's
        assert "Patient-reported" in chart.text_content()
        assert page.locator("#reported tbody tr").count() == 2
        assert page.locator("#reported tbody tr").nth(1).inner_text().split("\t")[1:] == [
            "After the course", "3", "Blisters"]
        screenshot(page, "course-progress-check-ins")

        page.emulate_media(media="print")
        assert chart.is_visible() and page.locator("#reported").is_visible()
        assert page.locator("svg.chart path.marker-reported").first.is_visible()
        screenshot(page, "course-progress-check-ins-print")
