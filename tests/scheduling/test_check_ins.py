"""Check-ins without a worker: planning, the link's page, the answer's rules, the maintenance rule, the
progress (chart, table, CSV, flags), the FHIR export and the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle

from patients.models import AuditAction, AuditEvent
from scheduling.booking.courses import course_maintenance_proposal, course_start_maintenance
from scheduling.booking.selectors import course_annotate_maintenance, course_maintenance_due_at
from scheduling.checkins.links import CHECK_IN_LINK_MAX_AGE, CHECK_IN_SALT, check_in_link_token
from scheduling.checkins.models import CheckIn, CheckInPurpose
from scheduling.checkins.questions import HDSS_QUESTION, PAIN_QUESTION
from scheduling.checkins.selectors import check_in_send_refusal
from scheduling.checkins.services import ALREADY_ANSWERED, check_in_answer, check_ins_plan_periodic
from scheduling.models import Course, Notification, NotificationKind
from scheduling.records.chart import outcome_chart_svg
from scheduling.records.exports import course_sessions_csv
from scheduling.records.fhir import course_fhir_bundle
from scheduling.records.progress import FlagKind, course_list_for_dashboard, course_progress
from scheduling.reminders.emails import email_build
from scheduling.reports.selectors import report_outcomes, report_period
from tests.conftest import made_once
from tests.factories import make_clinic, make_course
from tests.scheduling.progress_courses import after, complete, record, scored, treat
from tests.scheduling.report_clinics import END, START, outcomes_clinic
from tests.scheduling.test_fhir import assert_valid_and_round_trips, resources

pytestmark = pytest.mark.django_db


rows_made_once, clinic = made_once(make_clinic)  # each test rolled back to the clinic


def url(check_in: CheckIn) -> str:
    return reverse("patient:check-in", args=[check_in_link_token(check_in_id=check_in.pk)])


def answer(client, check_in: CheckIn, **form):
    with time_machine.travel(check_in.due_at + timedelta(hours=1), tick=False):
        return client.post(url(check_in), form)


def finished(clinic, monday, *, medicated: bool = False, scores=(4, 3, 3, 2, 2, 2), hour: int = 10) -> Course:
    """A six-session course treated and completed, its after-course check-ins planned."""
    course = make_course(clinic, planned_sessions=6, medicated=medicated)
    appointments = treat(clinic, course, [(monday + timedelta(days=n), scored(score))
                                          for n, score in zip((0, 2, 4, 7, 9, 11), scores, strict=True)], hour=hour)
    return complete(clinic, course, after(appointments[-1]))


def check_in_of(course: Course, purpose: str, weeks: int = 0) -> CheckIn:
    return CheckIn.objects.select_related("course__location").get(course=course, purpose=purpose, weeks_after=weeks)


def test_the_first_booking_plans_one_baseline_check_in_and_its_email(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    treat(clinic, course, [(monday + timedelta(days=n), "booked") for n in (0, 2)])
    (baseline,) = CheckIn.objects.filter(course=course)
    assert baseline.purpose == CheckInPurpose.BASELINE
    assert clinic.location.local(baseline.due_at).replace(tzinfo=None) == (
        clinic.at(monday - timedelta(days=1), 10).replace(tzinfo=None))
    assert (baseline.notification.kind, baseline.notification.due_at) == (NotificationKind.CHECK_IN, baseline.due_at)


def test_a_maintenance_course_plans_no_baseline_check_in(clinic, monday):
    maintenance = course_start_maintenance(course=finished(clinic, monday), created_by=clinic.clinician.user)
    treat(clinic, maintenance, [(monday + timedelta(weeks=4), "booked")])
    assert not CheckIn.objects.filter(course=maintenance).exists()


def test_the_check_in_email_asks_only_how_the_patient_is_doing(clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    treat(clinic, course, [(monday, "booked")])
    baseline = CheckIn.objects.get(course=course)
    message = email_build(notification=baseline.notification, appointments=[])
    text = message.body
    assert message.subject == f"How are you doing? A question from {clinic.location.name}"
    assert re.search(r"/p/check-in/[^/\s]+/", text)
    for clinical in ("HDSS", "sweat", "hyperhidrosis", "pain", "palms", "iontophoresis"):
        assert clinical.lower() not in (text + message.subject).lower()


def test_the_page_asks_then_takes_one_answer_and_refuses_a_second(client, clinic, monday):
    course = finished(clinic, monday)
    check_in = check_in_of(course, CheckInPurpose.AFTER_COURSE, 2)
    with time_machine.travel(check_in.due_at, tick=False):
        page = client.get(url(check_in))
    assert page.status_code == 200 and HDSS_QUESTION in page.text
    assert "never noticeable and never interferes with my daily activities" in page.text

    assert answer(client, check_in, score="2", skin_reaction="dryness").status_code == 200
    second = answer(client, check_in, score="4")
    assert second.status_code == 409 and ALREADY_ANSWERED in second.text
    check_in.refresh_from_db()
    assert (check_in.hdss, check_in.skin_reaction) == (2, "dryness")
    events = AuditEvent.objects.filter(object_type="checkin", object_id=str(check_in.pk))
    assert {event.action for event in events} == {AuditAction.READ, AuditAction.UPDATE}


@pytest.mark.parametrize(("form", "message"), [
    ({"score": "5"}, "Please choose one of the four statements."),
    ({"score": "0"}, "Please choose one of the four statements."),
    ({}, "Please choose one of the four statements."),
    ({"score": "2", "skin_reaction": "itching"}, "Please choose one of the answers about your skin."),
])
def test_an_answer_out_of_range_is_refused_with_the_reason(client, clinic, monday, form, message):
    check_in = check_in_of(finished(clinic, monday), CheckInPurpose.AFTER_COURSE, 2)
    refused = answer(client, check_in, **form)
    assert refused.status_code == 400 and message in refused.text
    check_in.refresh_from_db()
    assert check_in.answered_at is None


def test_a_pain_course_asks_the_numeric_rating_and_takes_0_to_10(client, clinic, monday):
    course = finished(clinic, monday, medicated=True, scores=(7, 6, 5, 4, 4, 3))
    check_in = check_in_of(course, CheckInPurpose.AFTER_COURSE, 4)
    with time_machine.travel(check_in.due_at, tick=False):
        assert PAIN_QUESTION in client.get(url(check_in)).text
    assert answer(client, check_in, score="11").status_code == 400
    assert answer(client, check_in, score="0").status_code == 200
    check_in.refresh_from_db()
    assert (check_in.pain_nprs, check_in.hdss) == (0, None)


def test_the_database_refuses_scores_out_of_range_and_two_kinds_at_once(clinic, monday):
    check_in = check_in_of(finished(clinic, monday), CheckInPurpose.AFTER_COURSE, 2)
    at = check_in.due_at
    for fields in ({"answered_at": at, "hdss": 5}, {"answered_at": at, "pain_nprs": 11},
                   {"answered_at": at, "hdss": 2, "pain_nprs": 3}, {"hdss": 2}, {"answered_at": at}):
        with pytest.raises(IntegrityError), transaction.atomic():
            CheckIn.objects.filter(pk=check_in.pk).update(**fields)


def test_forged_unknown_and_expired_links_say_so(client, clinic, monday):
    check_in = check_in_of(finished(clinic, monday), CheckInPurpose.AFTER_COURSE, 2)
    unknown = signing.dumps({"c": check_in.pk + 1000, "k": "check-in"}, salt=CHECK_IN_SALT)
    forged = check_in_link_token(check_in_id=check_in.pk)[:-3] + "abc"
    with time_machine.travel(check_in.due_at, tick=False):
        answers = [client.get(reverse("patient:check-in", args=[token])) for token in (unknown, forged)]
    assert [page.status_code for page in answers] == [400, 400]
    assert answers[0].text == answers[1].text
    with time_machine.travel(check_in.due_at + CHECK_IN_LINK_MAX_AGE + timedelta(minutes=1), tick=False):
        expired = client.post(url(check_in), {"score": "3"})
    assert expired.status_code == 410 and "expired" in expired.text
    check_in.refresh_from_db()
    assert check_in.answered_at is None


def test_hdss_3_makes_maintenance_due_now_for_the_flag_the_recall_and_the_proposal(client, clinic, monday):
    back, fine = finished(clinic, monday, hour=14), finished(clinic, monday, hour=16)
    calendar = {course: course_maintenance_due_at(course=course) for course in (back, fine)}
    early = {course: check_in_of(course, CheckInPurpose.AFTER_COURSE, 2) for course in (back, fine)}
    # The 2-week check-in falls due at 10:00, before the calendar (the last session's time, 2 weeks on).
    assert answer(client, early[fine], score="2").status_code == 200
    assert answer(client, early[back], score="3").status_code == 200
    answered = check_in_of(back, CheckInPurpose.AFTER_COURSE, 2).answered_at
    assert course_maintenance_due_at(course=fine) == calendar[fine]
    assert course_maintenance_due_at(course=back) == answered < calendar[back]
    recalls = Notification.objects.filter(kind=NotificationKind.MAINTENANCE_RECALL)
    assert [(row.course, row.due_at) for row in recalls] == [(back, answered)]
    with time_machine.travel(answered + timedelta(minutes=5), tick=False):
        (session,) = course_maintenance_proposal(course=back).sessions
        assert session.starts_at.date() >= answered.date()
        today = clinic.location.local(answered).date()
        progress = course_progress(course=back, today=today)
        dashboard = course_list_for_dashboard(user=clinic.clinician.user, today=today)
    assert FlagKind.SWEATING_RETURNED in {flag.kind for flag in progress.flags}
    assert progress.maintenance_due_on == today
    assert [item.course for item in dashboard] == [back]  # completed, but flagged "sweating returned"


def test_a_reported_blister_raises_the_side_effect_flag(client, clinic, monday):
    course = finished(clinic, monday, medicated=True, scores=(7, 6, 5, 4, 4, 3))
    assert answer(client, check_in_of(course, CheckInPurpose.AFTER_COURSE, 2), score="3",
                  skin_reaction="blisters").status_code == 200
    flags = {flag.kind: flag.message for flag in course_progress(course=course).flags}
    assert "The patient reported blisters on" in flags[FlagKind.SIDE_EFFECT]


def test_the_maintenance_rule_reads_answers_in_the_same_single_query(clinic, monday, django_assert_num_queries):
    courses = [finished(clinic, monday, hour=hour) for hour in (9, 11, 13)]
    rows = Course.objects.filter(pk__in=[course.pk for course in courses])
    with django_assert_num_queries(1):
        assert len(list(course_annotate_maintenance(courses=rows))) == 3


def test_the_response_rule_counts_the_patients_baseline_answer(client, clinic, monday):
    """A baseline HDSS 4 from the patient, then 3 recorded at every session: a response (4 to 3), though
    the clinician's own scores never fell."""
    course = make_course(clinic, planned_sessions=6)
    days = [monday + timedelta(days=n) for n in (0, 2, 4, 7, 9, 11)]
    appointments = treat(clinic, course, [(day, "booked") for day in days])
    assert answer(client, CheckIn.objects.get(course=course), score="4").status_code == 200
    for appointment in appointments:
        with time_machine.travel(after(appointment), tick=False):
            record(clinic, course, appointment, **scored(3))
    progress = course_progress(course=course, today=days[-1])
    assert FlagKind.NO_RESPONSE not in {flag.kind for flag in progress.flags}


def test_the_progress_shows_both_kinds_of_score_in_the_chart_the_table_and_the_csv(client, clinic, monday):
    course = finished(clinic, monday)
    assert answer(client, check_in_of(course, CheckInPurpose.AFTER_COURSE, 2), score="2").status_code == 200
    assert answer(client, check_in_of(course, CheckInPurpose.AFTER_COURSE, 4), score="3",
                  skin_reaction="redness").status_code == 200
    progress = course_progress(course=course)
    chart = str(outcome_chart_svg(progress))
    assert chart.count('class="marker-reported"') == 3  # two answers and the legend
    assert "Patient-reported" in chart
    rows = list(csv.DictReader(io.StringIO(course_sessions_csv(progress=progress))))
    reported = [(row["status"], row["HDSS"], row["side effects"]) for row in rows if row["reported by"] == "patient"]
    assert reported == [("Check-in: after the course", "2", ""),
                        ("Check-in: after the course", "3", "Skin reaction: redness")]
    client.force_login(clinic.clinician.user)
    page = client.get(reverse("progress:course", args=[course.pk]))
    assert page.status_code == 200 and 'id="reported"' in page.text and "Skin reaction" in page.text
    api = client.get(f"/api/v1/courses/{course.pk}/progress/")
    assert [(point["purpose"], point["value"], point["skin_reaction"]) for point in api.json()["reported"]] == [
        ("after_course", "2", ""), ("after_course", "3", "redness")]


def test_the_fhir_bundle_holds_the_answers_as_questionnaire_responses_by_the_patient(client, clinic, monday):
    course = finished(clinic, monday)
    assert answer(client, check_in_of(course, CheckInPurpose.AFTER_COURSE, 2), score="3",
                  skin_reaction="blisters").status_code == 200
    bundle = course_fhir_bundle(progress=course_progress(course=course))
    parsed = assert_valid_and_round_trips(bundle)
    assert isinstance(parsed, Bundle)
    (response,) = resources(bundle, "QuestionnaireResponse")
    patient = resources(bundle, "Patient")[0]
    patient_url = next(entry["fullUrl"] for entry in bundle["entry"] if entry["resource"] is patient)
    assert response["author"]["reference"] == response["source"]["reference"] == patient_url
    assert [item["answer"][0] for item in response["item"]] == [
        {"valueInteger": 3}, {"valueCoding": {"system": "urn:ionto:codesystem:skin-reaction", "code": "blisters",
                                              "display": "Blisters"}}]
    reported = [obs for obs in resources(bundle, "Observation") if obs.get("derivedFrom")]
    assert [(obs["valueInteger"], obs["performer"][0]["reference"]) for obs in reported] == [(3, patient_url)]


def test_the_outcomes_report_counts_the_patients_baseline_answer_as_the_progress_page_does():
    """Course B of the report's clinic has HDSS 3 at every session: no response, until its patient's baseline
    answer (4, the day before the first session) is its first score."""
    clinic, courses = outcomes_clinic()
    period = report_period(user=clinic.manager.user, start=START, end=END, location_id=clinic.location.pk)

    def hyperhidrosis():
        row = next(row for row in report_outcomes(period=period).responses if row.indication == "hyperhidrosis")
        return row.ended, row.judged, row.responded, row.median_sessions_to_response

    assert hyperhidrosis() == (4, 3, 2, 2.0)
    baseline = CheckIn.objects.get(course=courses["B"], purpose=CheckInPurpose.BASELINE)
    with time_machine.travel(baseline.due_at, tick=False):
        check_in_answer(check_in=baseline, score=4)
    assert hyperhidrosis() == (4, 3, 3, 2.0)  # B responds at its 1st session (4 -> 3): median of 2, 1, 2
    progress = course_progress(course=courses["B"], today=END)
    assert FlagKind.NO_RESPONSE not in {flag.kind for flag in progress.flags}


def test_a_baseline_email_is_withdrawn_once_a_score_is_recorded_and_after_answering(client, clinic, monday):
    course = make_course(clinic, planned_sessions=6)
    first, _second = treat(clinic, course, [(monday, "booked"), (monday + timedelta(days=2), "booked")])
    baseline = CheckIn.objects.get(course=course)
    assert check_in_send_refusal(notification=baseline.notification, now=baseline.due_at) == ""
    with time_machine.travel(after(first), tick=False):
        record(clinic, course, first, **scored(3))
    assert check_in_send_refusal(notification=baseline.notification, now=after(first)) == (
        "Not sent: a score was recorded in a session.")
    after_course = check_in_of(finished(clinic, monday + timedelta(weeks=3), hour=15), CheckInPurpose.AFTER_COURSE, 2)
    assert answer(client, after_course, score="2").status_code == 200
    assert check_in_send_refusal(notification=after_course.notification, now=after_course.due_at) == (
        "Not sent: the patient has already answered.")


def test_periodic_check_ins_come_every_4_weeks_while_waiting_and_stop_after_a_year(clinic, monday):
    course = finished(clinic, monday)
    last = course.appointments.order_by("-starts_at").first()
    eight = check_in_of(course, CheckInPurpose.AFTER_COURSE, 8)
    assert check_ins_plan_periodic(now=eight.due_at - timedelta(minutes=1)) == 0  # the 8-week one is still ahead
    assert check_ins_plan_periodic(now=eight.due_at) == 1
    assert check_ins_plan_periodic(now=eight.due_at) == 0  # planned once
    planned = CheckIn.objects.filter(course=course, purpose=CheckInPurpose.PERIODIC).order_by("-weeks_after")
    while True:
        latest = planned[0]
        assert clinic.location.local(latest.due_at).hour == 10
        assert clinic.location.local(latest.due_at).date() == last.local_date + timedelta(weeks=latest.weeks_after)
        if not check_ins_plan_periodic(now=latest.due_at):
            break
    # Every 4 weeks after the 8-week one, the last within a year of the last session.
    assert sorted(planned.values_list("weeks_after", flat=True)) == list(range(12, 53, 4))
