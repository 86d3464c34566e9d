"""The patients' own pages: choose another time for a session, book the rest of a course (issue #22).

Through Django's test client against the real database; the same flows from a received email in a real
browser are in tests/browser/test_selfservice.py.
"""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
import time_machine
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from clinic.errors import ConflictError
from clinic.services import closure_create, location_set_patient_options
from patients import services as patient_services
from patients.models import AuditAction, AuditEvent
from scheduling.booking.selectors import appointment_late_cancellation_message
from scheduling.booking.services import appointment_cancel
from scheduling.models import Appointment, AppointmentStatus, CancelledBy, Notification, NotificationKind
from scheduling.reminders.emails import LINK_SALT, course_link_token, email_build, patient_link_token
from scheduling.selfservice.selectors import (
    MOVE_TIMES_MAX,
    MOVE_TIMES_PER_DAY,
    appointment_move_options,
    move_option_find,
)
from scheduling.selfservice.services import TAKEN, appointment_move_by_patient
from tests.factories import NO_CONTRAINDICATIONS, book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db

NOT_VALID = "This link is not valid. Please check that you copied all of it."


@pytest.fixture
def clinic():
    return make_clinic(name="Harbour Clinic")


def move_url(appointment: Appointment) -> str:
    return reverse("patient:move", args=[patient_link_token(appointment=appointment, action="move")])


def option_keys(response) -> list[str]:
    return re.findall(r'name="time" value="(\d+)"', response.content.decode())


def message_of(response) -> str:
    return re.search(r'<p id="message">(.*?)</p>', response.content.decode(), re.S).group(1).strip()


def block_screening(clinic, patient) -> None:
    patient_services.screening_record(patient=patient, recorded_by=clinic.clinician.user, for_medicated=False,
                                      answers={**NO_CONTRAINDICATIONS, "pacemaker": True})


# ---------------------------------------------------------------------------------------------
# The free times


def test_free_times_are_grouped_by_day_nearest_the_sessions_time_outside_the_late_window(clinic):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    days = appointment_move_options(appointment=session)
    location = clinic.location
    earliest = timezone.now() + timedelta(hours=location.late_cancellation_hours)
    options = [option for day in days for option in day.options]
    assert len(options) == MOVE_TIMES_MAX
    assert [day.day for day in days] == sorted({day.day for day in days})
    assert all(len(day.options) <= MOVE_TIMES_PER_DAY for day in days)
    assert all(option.starts_at >= earliest for option in options)
    assert session.starts_at not in [option.starts_at for option in options]
    first_day = days[0]
    assert [option.time_text for option in first_day.options] == ["08:30", "08:45", "09:00", "09:15"]
    assert all(option.clinician == session.clinician and option.room == session.room for option in options)


def test_the_sessions_own_clinician_only_unless_the_location_lets_patients_change(clinic):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    day = appointment_move_options(appointment=session)[1].day
    # The session's clinician is busy all that day: the page offers no time then...
    closure_create(location=clinic.location, clinician=session.clinician, starts_at=clinic.at(day, 0),
                   ends_at=clinic.at(day, 23), reason="Training")
    assert day not in [found.day for found in appointment_move_options(appointment=session)]
    # ... until the clinic lets patients see its other clinicians; their own still come first where free.
    location_set_patient_options(location=clinic.location, patients_may_change_clinician=True)
    session = Appointment.objects.select_related("location", "course__patient").get(pk=session.pk)
    days = appointment_move_options(appointment=session)
    busy_day = next(found for found in days if found.day == day)
    assert {option.clinician for option in busy_day.options} == {clinic.clinicians[1]}
    assert {option.clinician for option in days[0].options} == {session.clinician}


def test_a_week_that_already_holds_the_courses_cadence_is_not_offered(clinic):
    course = make_course(clinic)
    moving = book(clinic, course, clinic.at(next_weekday(3), 9))
    full_week = [book(clinic, course, clinic.at(next_weekday(d, weeks_ahead=2), 9)) for d in (0, 2, 4)]
    assert course.sessions_per_week == 3
    days = [found.day for found in appointment_move_options(appointment=moving)]
    monday = full_week[0].local_date
    assert days and not [day for day in days if monday <= day < monday + timedelta(days=7)]


@pytest.mark.parametrize("others", [0, 30])
def test_free_times_come_in_a_fixed_number_of_queries_whatever_the_history(clinic, others,
                                                                          django_assert_max_num_queries):
    patient = make_patient(clinic)
    course = make_course(clinic, patient)
    session = book(clinic, course, clinic.at(next_weekday(2), 9))
    for n in range(others):  # other patients' sessions, some cancelled, and the patient's earlier courses
        day = next_weekday(n % 6, weeks_ahead=1 + n // 12)
        other = book(clinic, make_course(clinic), clinic.at(day, 10 + n % 8), clinician=clinic.clinicians[n % 2],
                     room=clinic.rooms[n % 2], device=clinic.devices[n % 2])
        if n % 3 == 0:
            appointment_cancel(appointment=other, recorded_by=clinic.front_desk.user, by=CancelledBy.CLINIC,
                               reason="Clinic closed")
    session = Appointment.objects.select_related("location", "course__patient", "clinician", "room",
                                                 "device").get(pk=session.pk)
    with django_assert_max_num_queries(8):  # the engine's six, the course's other days, the screening
        assert appointment_move_options(appointment=session)


def test_a_screening_that_blocks_booking_offers_no_time_and_the_page_says_to_call(clinic, client):
    patient = make_patient(clinic)
    session = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(2), 9))
    block_screening(clinic, patient)
    response = client.get(move_url(session))
    assert response.status_code == 200
    assert option_keys(response) == []
    assert message_of(response) == "We cannot offer you a time online. Please call Harbour Clinic on +44 20 7946 0000."
    assert client.post(move_url(session), {"time": "1"}).status_code == 409


# ---------------------------------------------------------------------------------------------
# Moving


def test_patient_picks_a_time_confirms_on_a_second_step_and_the_session_moves(clinic, client):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    url = move_url(session)
    response = client.get(url)
    assert response.status_code == 200
    keys = option_keys(response)
    assert len(keys) == MOVE_TIMES_MAX
    content = response.content.decode()
    assert "None of these suit you?" in content and "call us on +44 20 7946 0000" in content
    assert 'id="waitlist-join"' in content and "/waitlist/join/" in content  # the waitlist, for earlier times
    chosen = keys[5]
    asked = client.post(url, {"time": chosen})
    assert asked.status_code == 200
    session.refresh_from_db()
    assert session.version == 1  # asking to confirm changes nothing
    page = asked.content.decode()
    assert re.search(r'id="old-time">Wednesday', page) and 'id="new-time"' in page
    done = client.post(url, {"time": chosen, "step": "confirm"})
    assert done.status_code == 200
    assert message_of(done).startswith("Done: your session is at its new time.")
    session.refresh_from_db()
    assert int(session.starts_at.timestamp()) == int(chosen)
    assert session.moved_by_patient_at is not None and session.version == 2
    change = AuditEvent.objects.filter(object_type="appointment", object_id=str(session.pk),
                                       action=AuditAction.UPDATE).get()
    assert (change.actor, change.actor_label, change.via) == (None, "patient link", "patient link")
    assert "starts_at" in change.changes
    assert AuditEvent.objects.filter(object_id=str(session.pk), action=AuditAction.READ).count() == 3
    assert Notification.objects.filter(appointment=session, kind=NotificationKind.RESCHEDULED).count() == 1
    # The link was for the old version: it no longer acts.
    again = client.post(url, {"time": keys[6], "step": "confirm"})
    assert again.status_code == 410
    assert "earlier state of your session" in message_of(again)


def test_the_desk_moving_it_again_clears_moved_by_the_patient(clinic, client):
    from scheduling.booking.services import appointment_reschedule

    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    [option] = appointment_move_options(appointment=session)[0].options[:1]
    moved = appointment_move_by_patient(appointment=session, option=option, expected_version=1)
    assert moved.moved_by_patient_at is not None and moved.booked_by == clinic.front_desk.user
    again = appointment_reschedule(appointment=moved, starts_at=clinic.at(next_weekday(4), 11),
                                   rescheduled_by=clinic.front_desk.user)
    assert again.moved_by_patient_at is None


def test_inside_the_late_change_window_the_page_says_to_call_in_the_cancel_links_words(client):
    clinic = make_clinic(name="Late Clinic", late_cancellation_hours=48)
    session = book(clinic, make_course(clinic), clinic.location.at(timezone.localdate() + timedelta(days=1), time(10)))
    response = client.get(move_url(session))
    assert response.status_code == 200
    assert option_keys(response) == []
    assert message_of(response) == appointment_late_cancellation_message(appointment=session)
    assert "Please call us" in response.content.decode()
    assert client.post(move_url(session), {"time": "1", "step": "confirm"}).status_code == 409
    session.refresh_from_db()
    assert session.version == 1


def test_a_time_inside_the_late_window_is_refused_by_the_service(clinic):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    option = appointment_move_options(appointment=session)[0].options[0]
    with time_machine.travel(option.starts_at - timedelta(hours=23), tick=False), \
            pytest.raises(ValidationError) as refused:
        appointment_move_by_patient(appointment=session, option=option, expected_version=1)
    assert refused.value.messages == [appointment_late_cancellation_message(appointment=session)]


def test_a_time_taken_meanwhile_is_told_in_patient_words_with_the_next_free_times(clinic, client):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    url = move_url(session)
    keys = option_keys(client.get(url))
    days = appointment_move_options(appointment=session)
    taken = move_option_find(days, keys[0])
    book(clinic, make_course(clinic), taken.starts_at)  # another patient, the same clinician, room and device
    response = client.post(url, {"time": keys[0], "step": "confirm"})
    assert response.status_code == 409
    assert TAKEN in response.content.decode()
    left = option_keys(response)
    assert keys[0] not in left and len(left) == MOVE_TIMES_MAX
    session.refresh_from_db()
    assert (session.version, session.moved_by_patient_at) == (1, None)
    # The service itself, given the stale choice, answers the same words (never the desk's, naming rooms).
    with pytest.raises(ConflictError) as refused:
        appointment_move_by_patient(appointment=session, option=taken, expected_version=1)
    assert refused.value.messages == [TAKEN]


# ---------------------------------------------------------------------------------------------
# Safety of the links


def test_unknown_foreign_and_forged_links_get_the_same_answer(clinic, client):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    unknown = signing.dumps({"a": 987654, "v": 1, "k": "move"}, salt=LINK_SALT)
    other_action = patient_link_token(appointment=session, action="cancel")
    forged = patient_link_token(appointment=session, action="move")[:-3] + "abc"
    answers = {(response.status_code, message_of(response)) for response in (
        client.get(reverse("patient:move", args=[token])) for token in (unknown, other_action, forged))}
    assert answers == {(400, NOT_VALID)}
    book_rest = {(response.status_code, message_of(response)) for response in (
        client.get(reverse("patient:book-rest", args=[token])) for token in (
            signing.dumps({"c": 987654, "l": 3, "k": "book-rest"}, salt=LINK_SALT), unknown))}
    assert book_rest == {(400, NOT_VALID)}


def test_an_expired_link_is_refused(clinic, client):
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    url = move_url(session)
    with time_machine.travel(timezone.now() + timedelta(days=61)):
        response = client.get(url)
    assert response.status_code == 410
    assert message_of(response).startswith("This link has expired.")


def test_the_pages_show_nothing_clinical(clinic, client):
    course = make_course(clinic, medicated=True)
    session = book(clinic, course, clinic.at(next_weekday(2), 9))
    pages = [client.get(move_url(session)).content.decode(),
             client.get(reverse("patient:book-rest", args=[course_link_token(course_id=course.pk, sessions_left=7)]),
                        {"show": "1"}).content.decode()]
    for page in pages:
        for word in ("musculoskeletal", "dexamethasone", "epicondyle", "Musculoskeletal"):
            assert word not in page


def test_the_pages_are_rate_limited_per_address(clinic, client, settings):
    settings.IONTO_PATIENT_LINK_RATE = 3
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    statuses = [client.get(move_url(session)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


# ---------------------------------------------------------------------------------------------
# Booking the rest of a course


def book_rest_url(course, left: int) -> str:
    return reverse("patient:book-rest", args=[course_link_token(course_id=course.pk, sessions_left=left)])


def test_the_follow_up_and_session_emails_carry_their_links(clinic):
    course = make_course(clinic, planned_sessions=6)
    session = book(clinic, course, clinic.at(next_weekday(2), 9))
    confirmation = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    text = email_build(notification=confirmation, appointments=[session]).body
    assert re.search(r"Choose another time: \S+/p/move/\S+/", text)
    follow_up = Notification(kind=NotificationKind.SESSION_FOLLOW_UP, patient=course.patient, course=course,
                             appointment=session)
    text = email_build(notification=follow_up, appointments=[session], sessions_left=5).body
    link = re.search(r"Book your remaining sessions online: \S+(/p/book/\S+/)", text).group(1)
    assert link == book_rest_url(course, 5)


def test_patient_sees_the_plan_then_books_every_remaining_session(clinic, client):
    course = make_course(clinic, planned_sessions=6)
    book(clinic, course, clinic.at(next_weekday(0), 9))
    url = book_rest_url(course, 5)
    form = client.get(url)
    assert form.status_code == 200 and "You have 5 sessions left to book." in form.content.decode()
    wishes = {"weekdays": ["1", "3"], "earliest": "14:00", "latest": "17:00"}
    preview = client.get(url, {**wishes, "show": "1"})
    assert preview.status_code == 200
    planned = re.findall(r'<li value="(\d)">(.*?)</li>', preview.content.decode())
    assert [number for number, _ in planned] == ["2", "3", "4", "5", "6"]
    assert all(re.match(r"(Tuesday|Thursday) .* 1[4-6]:\d\d ", when) for _, when in planned)
    assert Appointment.objects.filter(course=course).count() == 1  # a preview books nothing
    booked = client.post(url, wishes)
    assert booked.status_code == 200
    assert "Done: all your remaining sessions are booked." in booked.content.decode()
    sessions = Appointment.objects.filter(course=course).exclude(booked_by=clinic.front_desk.user)
    assert sessions.count() == 5 and {s.booked_by for s in sessions} == {None}
    assert {f"{clinic.location.local(s.starts_at):%A}" for s in sessions} == {"Tuesday", "Thursday"}
    creates = AuditEvent.objects.filter(object_type="appointment", action=AuditAction.CREATE, actor=None)
    assert creates.count() == 5 and {event.actor_label for event in creates} == {"patient link"}
    assert AuditEvent.objects.filter(object_type="course", object_id=str(course.pk), action=AuditAction.READ).exists()
    used = client.post(url, wishes)
    assert used.status_code == 410
    assert "Your sessions have changed since this email was sent" in message_of(used)


def test_a_plan_that_does_not_fit_books_nothing_and_says_why_in_patient_words(clinic, client):
    course = make_course(clinic, planned_sessions=8)
    book(clinic, course, clinic.at(next_weekday(0), 9))
    url = book_rest_url(course, 7)
    wishes = {"weekdays": ["2"], "earliest": "09:00", "latest": "10:00"}
    preview = client.get(url, {**wishes, "show": "1"})
    page = preview.content.decode()
    assert 'id="book"' not in page
    reasons = re.findall(r"<li>(Session \d of 8: .*?)</li>", page)
    assert reasons and all(reason.endswith("Try more weekdays or a wider time window.") for reason in reasons)
    assert not [reason for reason in reasons if re.search("room|device|clinician|patient", reason, re.I)]
    response = client.post(url, wishes)
    assert response.status_code == 409
    assert "Nothing has been booked" in response.content.decode()
    assert Appointment.objects.filter(course=course).count() == 1


def test_wishes_in_the_wrong_order_are_a_form_error(clinic, client):
    course = make_course(clinic, planned_sessions=6)
    response = client.get(book_rest_url(course, 6), {"earliest": "15:00", "latest": "09:00", "show": "1"})
    assert response.status_code == 400
    assert "The latest time (09:00) must be after the earliest (15:00)." in response.content.decode()


def test_book_rest_with_a_blocking_screening_says_to_call(clinic, client):
    patient = make_patient(clinic)
    course = make_course(clinic, patient, planned_sessions=6)
    block_screening(clinic, patient)
    response = client.post(book_rest_url(course, 6), {"weekdays": ["0"]})
    assert response.status_code == 409
    assert message_of(response) == "We cannot offer you a time online. Please call Harbour Clinic on +44 20 7946 0000."
    assert not Appointment.objects.filter(course=course).exists()


def test_a_cancelled_session_is_not_offered_back_to_the_patient_on_a_stale_link(clinic, client):
    """The move link is bound to the version: a session the clinic cancelled cannot be moved by its old link."""
    session = book(clinic, make_course(clinic), clinic.at(next_weekday(2), 9))
    url = move_url(session)
    appointment_cancel(appointment=session, recorded_by=clinic.front_desk.user, by=CancelledBy.CLINIC, reason="Ill")
    response = client.get(url)
    assert response.status_code == 410
    session.refresh_from_db()
    assert session.status == AppointmentStatus.CANCELLED


# ---------------------------------------------------------------------------------------------
# What the desk sees


def test_the_desk_sees_moved_by_the_patient_and_booked_by_the_patient(clinic, client):
    from scheduling.desk.selectors import appointment_list_for_day, card_badges

    course = make_course(clinic, planned_sessions=6)
    session = book(clinic, course, clinic.at(next_weekday(2), 9))
    option = appointment_move_options(appointment=session)[0].options[0]
    moved = appointment_move_by_patient(appointment=session, option=option, expected_version=1)
    plan = client.post(reverse("patient:book-rest", args=[course_link_token(course_id=course.pk, sessions_left=5)]),
                       {"weekdays": ["1", "3", "5"]})
    assert plan.status_code == 200
    by_patient = Appointment.objects.filter(course=course, booked_by=None).first()
    [card] = [row for row in appointment_list_for_day(location=clinic.location, day=moved.local_date)
              if row.pk == moved.pk]
    assert ("patient-moved", "moved by the patient") in card_badges(card, timezone.localdate())
    client.force_login(clinic.front_desk.user)
    page = client.get(reverse("admin:scheduling_appointment_change", args=[moved.pk])).content.decode()
    assert "moved by the patient" in page.lower()
    assert f'<div class="readonly">{clinic.front_desk.user.username}</div>' in page
    page = client.get(reverse("admin:scheduling_appointment_change", args=[by_patient.pk])).content.decode()
    assert re.search(r"<div class=\"readonly\">the patient</div>", page)


def test_a_locations_patient_options_change_from_its_admin_page(clinic, client):
    client.force_login(clinic.admin)
    url = reverse("admin:clinic_location_change", args=[clinic.location.pk])
    form = client.get(url).content.decode()
    assert 'name="patients_may_change_clinician"' in form
    for name in ("waitlist_offer_minutes", "check_in_weeks_after_course", "check_in_every_weeks"):
        assert f'name="{name}"' in form
    unchanged = {"opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0",
                 "check_in_weeks_after_course": "2,4,8", "check_in_every_weeks": "4"}
    refused = client.post(url, {**unchanged, "waitlist_offer_minutes": "5"})
    assert refused.status_code == 200 and "greater than or equal to 10" in refused.content.decode()
    response = client.post(url, {**unchanged, "patients_may_change_clinician": "on", "waitlist_offer_minutes": "90",
                                 "check_in_weeks_after_course": "3,6", "check_in_every_weeks": "6"})
    assert response.status_code == 302
    clinic.location.refresh_from_db()
    assert clinic.location.patients_may_change_clinician is True
    assert (clinic.location.waitlist_offer_minutes, clinic.location.check_in_weeks_after_course,
            clinic.location.check_in_every_weeks) == (90, [3, 6], 6)
    assert clinic.location.opening_hours.count() == 6  # the rest of the location is as it was
