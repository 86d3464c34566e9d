"""The notification outbox in one process: rows written with their cause, claimed when due, sent
over real SMTP (aiosmtpd on loopback), re-checked before sending, and the patient's link pages."""

from __future__ import annotations

import re
import threading
import zlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import signing
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from icalendar import Calendar

from clinic import services as clinic_services
from devtools.mailcatcher import MailFolder
from patients import services as patient_services
from patients.models import Patient
from scheduling.booking.courses import course_complete, course_start_maintenance
from scheduling.booking.services import appointment_cancel, appointment_mark_noshow, appointment_reschedule, book_one
from scheduling.models import (
    AppointmentStatus,
    CancelledBy,
    Notification,
    NotificationKind,
    NotificationStatus,
)
from scheduling.records.services import session_record_create
from scheduling.reminders.outbox import (
    notification_claim_due,
    notification_resend,
    notification_write_maintenance_recalls,
    notifications_on_booked,
)
from scheduling.reminders.sending import (
    MAX_ATTEMPTS,
    SEND_BATCH,
    notification_send,
    notification_send_many,
    notifications_dispatch_due,
    retry_delay,
    send_batches,
)
from tests.conftest import free_port
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail(tmp_path, settings):
    """A real SMTP server on a free loopback port; Django's SMTP backend points at it."""
    handler = MailFolder(tmp_path / "mail")
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "clinic.mail.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.IONTO_PUBLIC_URL = "https://clinic.example.org"
    yield handler
    controller.stop()


def send_due(now: datetime) -> list[str]:
    """What the beat and the workers do, in this process: claim the due rows, send each."""
    with time_machine.travel(now, tick=False):
        return [notification_send(notification_id=pk, claimed_at=now) for pk in notification_claim_due(now=now)]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def calendars_of(message) -> list[Calendar]:
    """The message's calendar attachments, each checked against the rules of RFC 5545 and RFC 5546
    that mail clients rely on: one event per object, its METHOD also on the MIME part, ORGANIZER,
    ATTENDEE, UID, DTSTAMP and SEQUENCE present, and a VTIMEZONE for every TZID used."""
    calendars = []
    for part in message.walk():
        if part.get_content_type() != "text/calendar":
            continue
        calendar = Calendar.from_ical(part.get_payload(decode=True))
        assert (calendar["VERSION"], str(calendar["PRODID"])) == ("2.0", "-//Ionto//Clinic sessions//EN")
        assert part.get_param("method") == calendar["METHOD"]
        [event] = calendar.walk("VEVENT")
        for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "ORGANIZER", "ATTENDEE", "SUMMARY"):
            assert required in event, required
        assert str(event["ORGANIZER"]) == "mailto:no-reply@ionto.localhost"
        assert str(event["ATTENDEE"]) == f"mailto:{message['To']}"
        zones = {str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")}
        used = {event[name].params["TZID"] for name in ("DTSTART", "DTEND") if "TZID" in event[name].params}
        assert used == zones
        calendars.append(calendar)
    return calendars


def calendar_of(message) -> Calendar:
    [calendar] = calendars_of(message)
    return calendar


def links_in(message) -> dict[str, list[str]]:
    text = text_of(message)
    return {kind: re.findall(rf"https://clinic\.example\.org(/p/{kind}/[^/\s]+/)", text)
            for kind in ("confirm", "cancel", "unsubscribe")}


def rows(**filters) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(**filters).values_list("kind", "status"))


@pytest.fixture
def clinic():
    return make_clinic(name="Riverside Clinic", time_zone="Europe/London")


# ---------------------------------------------------------------------------------------------
# Writing rows with their cause


def test_booking_writes_one_confirmation_and_a_reminder_24_hours_before(clinic):
    course = make_course(clinic)
    starts = clinic.at(next_weekday(0), 9)
    appointment = book(clinic, course, starts)
    confirmation = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    reminder = Notification.objects.get(kind=NotificationKind.REMINDER)
    assert Notification.objects.count() == 3  # and the patient's baseline check-in (scheduling/checkins)
    assert Notification.objects.filter(kind=NotificationKind.CHECK_IN).count() == 1
    assert confirmation.appointment_ids == [appointment.pk]
    assert confirmation.status == NotificationStatus.PENDING
    assert reminder.due_at == starts - timedelta(days=1)
    assert reminder.appointment_version == 1


def test_second_reminder_is_written_when_the_location_asks_for_it():
    clinic = make_clinic(second_reminder_hours_before=2)
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(1), 11))
    second = Notification.objects.get(kind=NotificationKind.SECOND_REMINDER)
    assert second.due_at == appointment.starts_at - timedelta(hours=2)


def test_booking_several_sessions_in_one_call_gives_one_confirmation_listing_all(clinic, mail):
    course = make_course(clinic)
    days = [next_weekday(0), next_weekday(2), next_weekday(4)]
    with transaction.atomic():
        booked = [book_one(course=course, clinician=clinic.clinician, room=clinic.room,
                           device=clinic.device, starts_at=clinic.at(day, 10),
                           booked_by=clinic.front_desk.user) for day in days]
        notifications_on_booked(appointments=booked)
    assert rows(kind=NotificationKind.BOOKING_CONFIRMATION) == [("booking_confirmation", "pending")]
    assert Notification.objects.filter(kind=NotificationKind.REMINDER).count() == 3
    assert send_due(timezone.now()) == ["sent"]
    [message] = mail.messages()
    assert message["Subject"] == "Your sessions at Riverside Clinic are booked"
    calendars = calendars_of(message)
    assert {calendar["METHOD"] for calendar in calendars} == {"PUBLISH"}
    assert [str(event["UID"]) for calendar in calendars for event in calendar.walk("VEVENT")] == [
        f"ionto-appointment-{appointment.pk}@clinic.example.org"
        for appointment in sorted(booked, key=lambda appointment: appointment.starts_at)]
    assert len(links_in(message)["confirm"]) == 3


def test_a_reminder_whose_time_passed_at_booking_is_not_written(clinic):
    day = next_weekday(0)
    with time_machine.travel(clinic.at(day, 8), tick=False):
        book(clinic, make_course(clinic), clinic.at(day, 14))
    assert rows() == [("booking_confirmation", "pending"), ("check_in", "pending")]  # the baseline check-in


# ---------------------------------------------------------------------------------------------
# The email


def test_confirmation_email_names_first_name_local_time_zone_address_phone_and_nothing_clinical(mail):
    clinic = make_clinic(name="Harbour Clinic", time_zone="America/New_York")
    patient = make_patient(clinic, medicated=True, first_name="Robin", email="robin@example.org")
    course = make_course(clinic, patient, medicated=True)
    winter_tuesday = date(timezone.localdate().year + 1, 1, 10)
    winter_tuesday += timedelta(days=(1 - winter_tuesday.weekday()) % 7)
    appointment = book(clinic, course, clinic.at(winter_tuesday, 9, 30))
    assert send_due(timezone.now()) == ["sent"]
    [message] = mail.messages()
    confirmation = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    text, html = text_of(message), html_of(message)
    assert message["To"] == "robin@example.org"
    assert message["From"] == "Ionto clinic <no-reply@ionto.localhost>"
    assert message["Subject"] == "Your session at Harbour Clinic is booked"
    assert message["Message-ID"] == f"<ionto-notification-{confirmation.pk}@clinic.example.org>"
    for body in (text, html):
        assert "Dear Robin," in body
        assert f"Tuesday {winter_tuesday.day} January {winter_tuesday.year}, 09:30 EST (America/New_York)" in body
        assert "High Street" in body and "Testtown" in body
        assert "+44 20 7946 0000" in body
    everything = (message["Subject"] + text + html).lower()
    for clinical in ("musculoskeletal", "hyperhidrosis", "dexamethasone", "iontophoresis", "epicondyle",
                     "medicat", "drug", "diagnos", "indication"):
        assert clinical not in everything
    links = links_in(message)
    assert len(links["confirm"]) == len(links["cancel"]) == len(links["unsubscribe"]) == 1
    event = next(iter(calendar_of(message).walk("VEVENT")))
    assert str(event["UID"]) == f"ionto-appointment-{appointment.pk}@clinic.example.org"
    assert event["SEQUENCE"] == 1
    start = event.decoded("DTSTART")
    assert start == datetime.combine(winter_tuesday, time(9, 30), tzinfo=ZoneInfo("America/New_York"))
    assert start.tzinfo.key == "America/New_York"
    assert calendar_of(message)["METHOD"] == "PUBLISH"


def test_moved_session_gets_new_reminder_at_new_time_and_raised_sequence(clinic, mail):
    course = make_course(clinic)
    monday = next_weekday(0)
    appointment = book(clinic, course, clinic.at(monday, 9))
    send_due(timezone.now())
    tuesday = monday + timedelta(days=1)
    moved = appointment_reschedule(appointment=appointment, starts_at=clinic.at(tuesday, 15),
                                   rescheduled_by=clinic.front_desk.user)
    assert rows(kind=NotificationKind.REMINDER) == [("reminder", "cancelled"), ("reminder", "pending")]
    assert send_due(timezone.now()) == ["sent"]
    change = mail.messages()[-1]
    assert change["Subject"].startswith("Your session at Riverside Clinic has moved to ")
    event = next(iter(calendar_of(change).walk("VEVENT")))
    assert event["SEQUENCE"] == 2
    assert event.decoded("DTSTART") == clinic.at(tuesday, 15)
    old_due = clinic.at(monday, 9) - timedelta(days=1)
    assert send_due(old_due + timedelta(minutes=1)) == []
    assert send_due(moved.starts_at - timedelta(days=1)) == ["sent", "sent"]  # the baseline check-in, the reminder
    assert mail.messages()[-1]["Subject"].startswith("Reminder: your session at Riverside Clinic on ")
    assert len(mail.messages()) == 4


def test_cancelled_session_gets_a_cancel_invite_and_never_its_reminder(clinic, mail):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user, by=CancelledBy.CLINIC,
                       reason="Clinician ill")
    assert rows() == [("booking_confirmation", "pending"), ("cancellation", "pending"), ("check_in", "pending"),
                      ("reminder", "cancelled")]
    # The baseline check-in is not sent either: no session of the course is booked ahead.
    assert send_due(appointment.starts_at - timedelta(hours=1)) == ["cancelled", "sent", "cancelled"]
    [message] = mail.messages()
    assert message["Subject"].endswith("is cancelled")
    calendar = calendar_of(message)
    assert calendar["METHOD"] == "CANCEL"
    assert next(iter(calendar.walk("VEVENT")))["SEQUENCE"] == 2
    assert links_in(message)["confirm"] == []
    assert Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION).last_error == (
        "Not sent: none of the booked sessions is still ahead.")


def test_reminder_claimed_before_a_cancellation_is_not_sent(clinic, mail):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    due = appointment.starts_at - timedelta(days=1)
    with time_machine.travel(due, tick=False):
        claimed = notification_claim_due(now=due)
        appointment_cancel(appointment=appointment, recorded_by=None, by=CancelledBy.PATIENT,
                           reason="Away")
        outcomes = [notification_send(notification_id=pk, claimed_at=due) for pk in claimed]
    assert outcomes == ["cancelled", "cancelled"]
    assert Notification.objects.get(kind=NotificationKind.REMINDER).last_error == (
        "Not sent: the session is cancelled.")
    assert mail.messages() == []


def next_change_sunday(month: int) -> date:
    """The next last Sunday of ``month`` (when the UK changes its clocks) at least a week ahead."""
    year = timezone.localdate().year
    while True:
        last = date(year, month + 1, 1) - timedelta(days=1)
        sunday = last - timedelta(days=(last.weekday() - 6) % 7)
        if sunday > timezone.localdate() + timedelta(days=7):
            return sunday
        year += 1


@pytest.mark.parametrize(("month", "reminder_utc_hour"), [
    # Spring forward: Saturday is GMT (UTC+0), the Sunday session BST (UTC+1).
    (3, 9),
    # Fall back: Saturday is BST (UTC+1), the Sunday session GMT.
    (10, 8),
])
def test_reminder_for_0900_session_goes_at_0900_local_the_day_before_across_dst(month, reminder_utc_hour, mail):
    session_day = next_change_sunday(month)
    reminder_utc = datetime.combine(session_day - timedelta(days=1), time(reminder_utc_hour), tzinfo=UTC)
    clinic = make_clinic(time_zone="Europe/London")
    clinic_services.opening_hours_add(location=clinic.location, weekday=6, opens_at=time(8), closes_at=time(20),
                                      created_by=clinic.admin)
    appointment = book(clinic, make_course(clinic), clinic.at(session_day, 9))
    send_due(timezone.now())
    reminder = Notification.objects.get(kind=NotificationKind.REMINDER)
    assert reminder.due_at == reminder_utc
    assert clinic.location.local(reminder.due_at).time() == time(9, 0)
    assert appointment.starts_at - reminder.due_at != timedelta(hours=24)
    assert send_due(reminder_utc - timedelta(minutes=1)) == []
    assert send_due(reminder_utc) == ["sent"]
    text = text_of(mail.messages()[-1])
    zone = "BST" if session_day.month == 3 else "GMT"
    assert f"Sunday {session_day.day} {session_day:%B %Y}, 09:00 {zone} (Europe/London)" in text


# ---------------------------------------------------------------------------------------------
# Follow-ups and recalls


def record(clinic, appointment):
    return session_record_create(appointment=appointment, recorded_by=clinic.clinician.user,
                                 minutes_of_current=20, sites=[{"site": "palms", "current_ma": 12}], hdss=3)


def test_noshow_writes_a_follow_up_inviting_to_rebook(clinic, mail):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    send_due(timezone.now())
    with time_machine.travel(appointment.starts_at + timedelta(hours=1), tick=False):
        appointment_mark_noshow(appointment=appointment, marked_by=clinic.front_desk.user)
    assert rows(kind=NotificationKind.REMINDER) == [("reminder", "cancelled")]
    # The baseline check-in (due the day before) is not sent: no session of the course is booked ahead.
    assert send_due(appointment.starts_at + timedelta(hours=1)) == ["cancelled", "sent"]
    assert [m["Subject"] for m in mail.messages()] == ["Your session at Riverside Clinic is booked",
                                                       "We missed you at Riverside Clinic"]
    assert "Please call us on +44 20 7946 0000 to book" in text_of(mail.messages()[1])


def test_fulfilled_session_writes_follow_up_only_while_sessions_are_left_to_book(clinic, mail):
    course = make_course(clinic, planned_sessions=6)
    first = book(clinic, course, clinic.at(next_weekday(0), 9))
    with time_machine.travel(first.starts_at + timedelta(minutes=40), tick=False):
        record(clinic, first)
    assert rows(kind=NotificationKind.SESSION_FOLLOW_UP) == [("session_follow_up", "pending")]
    send_due(first.starts_at + timedelta(minutes=41))
    assert mail.messages()[-1]["Subject"] == "Book your next sessions at Riverside Clinic"
    assert "You have 5 more sessions to book." in text_of(mail.messages()[-1])

    full = make_course(clinic, planned_sessions=6)
    days = [next_weekday(d, weeks_ahead=2) for d in (0, 2, 4)] + [next_weekday(d, weeks_ahead=3) for d in (0, 2, 4)]
    booked = [book(clinic, full, clinic.at(day, 11)) for day in days]
    with time_machine.travel(booked[0].starts_at + timedelta(minutes=40), tick=False):
        record(clinic, booked[0])
    assert Notification.objects.filter(kind=NotificationKind.SESSION_FOLLOW_UP, course=full).count() == 0


def test_maintenance_recall_is_written_once_when_due_with_nothing_booked(clinic, mail):
    course = make_course(clinic, planned_sessions=6)
    days = [next_weekday(d, weeks_ahead=1) for d in (0, 2, 4)] + [next_weekday(d, weeks_ahead=2) for d in (0, 2, 4)]
    booked = [book(clinic, course, clinic.at(day, 9)) for day in days]
    for appointment in booked:
        with time_machine.travel(appointment.starts_at + timedelta(minutes=40), tick=False):
            record(clinic, appointment)
    course_complete(course=course, completed_by=clinic.clinician.user)
    maintenance = course_start_maintenance(course=course, created_by=clinic.clinician.user,
                                           interval_weeks=2)
    last = max(booked, key=lambda appointment: appointment.starts_at)
    due = last.starts_at + timedelta(weeks=2)
    assert notification_write_maintenance_recalls(now=due - timedelta(minutes=1)) == 0
    assert notification_write_maintenance_recalls(now=due) == 1
    assert notification_write_maintenance_recalls(now=due + timedelta(days=1)) == 0
    recall = Notification.objects.get(kind=NotificationKind.MAINTENANCE_RECALL)
    assert (recall.course, recall.appointment, recall.due_at) == (maintenance, last, due)
    assert send_due(due)[-1] == "sent"
    assert mail.messages()[-1]["Subject"] == "Time to book your next session at Riverside Clinic"


def test_recall_after_a_completed_course_goes_out_unless_maintenance_was_booked_before_the_send(clinic, mail):
    monday = date(2027, 5, 3)
    with time_machine.travel(datetime(2027, 5, 2, 12, tzinfo=UTC), tick=False):
        courses = []
        for hour in (9, 11):
            course = make_course(clinic, planned_sessions=6)
            for offset in (0, 2, 4, 7, 9, 11):
                appointment = book(clinic, course, clinic.at(monday + timedelta(days=offset), hour))
                with time_machine.travel(appointment.ends_at, tick=False):
                    record(clinic, appointment)
            courses.append(course_complete(course=course, completed_by=clinic.clinician.user))
    recalled, booked_meanwhile = courses
    due = clinic.at(monday + timedelta(days=25), 11)
    assert notification_write_maintenance_recalls(now=due) == 2
    with time_machine.travel(due, tick=False):
        maintenance = course_start_maintenance(course=booked_meanwhile, created_by=clinic.clinician.user)
        book(clinic, maintenance, clinic.at(monday + timedelta(days=29), 11))

    send_due(due)  # the initial courses' confirmations are past and cancelled; the recalls are checked again
    assert [(row.course, row.status, row.last_error) for row in
            Notification.objects.order_by("due_at").filter(kind=NotificationKind.MAINTENANCE_RECALL)] == [
        (recalled, NotificationStatus.SENT, ""),
        (booked_meanwhile, NotificationStatus.CANCELLED, "Not sent: no maintenance session is due any more."),
    ]
    subjects = [message["Subject"] for message in mail.messages()]
    assert [subject for subject in subjects if not subject.startswith("How are you doing?")] == [
        "Time to book your next session at Riverside Clinic", "Your session at Riverside Clinic is booked"]
    assert subjects.count("How are you doing? A question from Riverside Clinic") == 2  # the 2-week check-ins


def test_maintenance_recalls_cost_the_same_queries_for_one_course_or_three(clinic):
    def maintenance_course(hour: int) -> None:
        course = make_course(clinic, planned_sessions=6)
        days = [next_weekday(d, weeks_ahead=w) for w in (1, 2) for d in (0, 2, 4)]
        for day in days:
            appointment = book(clinic, course, clinic.at(day, hour))
            with time_machine.travel(appointment.starts_at + timedelta(minutes=40), tick=False):
                record(clinic, appointment)
        course_complete(course=course, completed_by=clinic.clinician.user)
        course_start_maintenance(course=course, created_by=clinic.clinician.user, interval_weeks=2)

    def queries_of_a_beat() -> int:
        with CaptureQueriesContext(connections["default"]) as queries:
            notification_write_maintenance_recalls(now=timezone.now() + timedelta(weeks=5))
        Notification.objects.filter(kind=NotificationKind.MAINTENANCE_RECALL).delete()
        return len(queries)

    maintenance_course(9)
    one = queries_of_a_beat()
    maintenance_course(11)
    maintenance_course(14)
    assert queries_of_a_beat() == one


# ---------------------------------------------------------------------------------------------
# Consent and failures


def test_no_email_without_consent(clinic, mail):
    patient = make_patient(clinic, email_consent=False, email="quiet@example.org")
    book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    assert send_due(timezone.now()) == ["cancelled"]
    assert Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION).last_error == (
        "Not sent: the patient has not agreed to email.")
    assert mail.messages() == []


def test_550_marks_the_row_failed_after_one_attempt_and_resend_queues_it_again(clinic, mail):
    patient = make_patient(clinic, email="gone@example.org")
    book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    mail.refused_recipients = {"gone@example.org"}
    assert send_due(timezone.now()) == ["failed"]
    row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 1)
    assert row.last_error == "Recipient refused: gone@example.org: 550 5.1.1 <gone@example.org>: mailbox unavailable"
    mail.refused_recipients = set()
    assert notification_resend(notification_ids=[row.pk], resent_by=clinic.admin) == 1
    assert send_due(timezone.now()) == ["sent"]
    assert len(mail.messages()) == 1


@pytest.mark.parametrize(("answer", "outcome", "status"), [
    ("553 5.7.1 Sender address rejected", "failed", NotificationStatus.FAILED),
    ("421 4.7.0 Too many connections, try again later", "retry", NotificationStatus.PENDING),
])
def test_a_refused_sender_fails_the_row_or_retries_it_as_the_server_says(clinic, mail, monkeypatch, answer, outcome,
                                                                          status):
    async def refuse_sender(server, session, envelope, address, mail_options):
        return answer

    monkeypatch.setattr(mail, "handle_MAIL", refuse_sender, raising=False)
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    assert send_due(timezone.now()) == [outcome]
    row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert (row.status, row.attempts, row.last_error) == (status, 1, f"SMTP {answer}")
    assert mail.messages() == []


def test_451_is_retried_with_growing_backoff_then_delivered_once(clinic, mail):
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    mail.temporary_failures = 3
    now = timezone.now()
    waits = []
    for _ in range(3):
        assert send_due(now) == ["retry"]
        row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
        assert row.last_error == "SMTP 451 4.3.0 Temporary failure, try again later"
        assert (row.status, row.sent_at, row.message_id) == (NotificationStatus.PENDING, None, "")
        waits.append(row.due_at - now)
        assert send_due(row.due_at - timedelta(seconds=1)) == []
        now = row.due_at
    assert send_due(now) == ["sent"]
    assert timedelta(seconds=30) <= waits[0] <= timedelta(seconds=60)
    assert timedelta(seconds=60) <= waits[1] <= timedelta(seconds=120)
    assert timedelta(seconds=120) <= waits[2] <= timedelta(seconds=240)
    row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 4)
    assert len(mail.messages()) == 1


def test_retry_delay_is_exponential_with_jitter_and_bounded():
    for attempts, ceiling in ((1, 60), (2, 120), (3, 240), (7, 3600), (20, 3600)):
        delays = {retry_delay(attempts=attempts).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


def test_transient_errors_fail_the_row_after_the_last_attempt(clinic, mail):
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    mail.temporary_failures = MAX_ATTEMPTS
    now = timezone.now()
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        outcomes += send_due(now)
        now += timedelta(hours=2)
    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION).status == NotificationStatus.FAILED


# ---------------------------------------------------------------------------------------------
# Claiming


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_once_never_claim_the_same_row():
    clinic = make_clinic()
    monday = next_weekday(0)
    for weekday in range(5):
        book(clinic, make_course(clinic), clinic.at(monday + timedelta(days=weekday), 9))
    now = timezone.now() + timedelta(days=30)
    results: list[list[int]] = []
    barrier = threading.Barrier(2)

    def claim():
        barrier.wait()
        try:
            results.append(notification_claim_due(now=now, limit=4))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = results[0] + results[1]
    assert len(claimed) == len(set(claimed)) == 8
    assert sorted(notification_claim_due(now=now)) == sorted(
        set(Notification.objects.values_list("pk", flat=True)) - set(claimed))


def test_send_batches_spread_a_small_claim_over_tasks_and_cap_a_large_one():
    assert send_batches([]) == []
    assert send_batches([1, 2, 3]) == [[1], [2], [3]]
    assert [len(batch) for batch in send_batches(list(range(36)))] == [5] * 7 + [1]
    large = send_batches(list(range(10_000)))
    assert (len(large), {len(batch) for batch in large}) == (200, {SEND_BATCH})
    assert [pk for batch in large for pk in batch] == list(range(10_000))


def test_a_line_starting_with_a_dot_arrives_whole(clinic, mail):
    """SMTP ends a message with a line holding one dot, so the sender doubles a leading dot and
    the server takes it off again (RFC 5321, section 4.5.2)."""
    clinic.location.address = ".Quay Side\nRiverside"
    clinic.location.save(update_fields=["address"])
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    send_due(timezone.now())
    [message] = mail.messages()
    assert "\r\n.Quay Side\r\n" in text_of(message)
    assert ".Quay Side<br>Riverside" in html_of(message)


def lock_waiters() -> list[tuple[str, str]]:
    """The wait event type and statement of each backend waiting on a lock this connection holds."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is otherwise read once a transaction
        cursor.execute("SELECT wait_event_type, query FROM pg_stat_activity "
                       "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_a_send_waits_for_a_change_holding_the_appointment_then_sees_it(clinic, mail):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    now = timezone.now()
    [claimed] = notification_claim_due(now=now)
    outcome: list[str] = []

    def send():
        try:
            outcome.append(notification_send(notification_id=claimed, claimed_at=now))
        finally:
            connections.close_all()

    with transaction.atomic():
        appointment_cancel(appointment=appointment, recorded_by=None, by=CancelledBy.PATIENT,
                           reason="Away")
        sender = threading.Thread(target=send)
        sender.start()
        waiters = []
        # pg_blocking_pids sees the wait a moment before pg_stat_activity names it: ask until it is named.
        while not (waiters and waiters[0][0]) and sender.is_alive():
            waiters = lock_waiters()
        assert (outcome, len(waiters)) == ([], 1), "the send went ahead while the cancellation held the appointment"
        [(wait_event_type, query)] = waiters
        assert wait_event_type == "Lock"
        assert query.startswith('SELECT "scheduling_appointment"."id"'), query  # the session's lock
    sender.join()
    assert outcome == ["cancelled"]
    assert mail.messages() == []


def test_a_row_whose_task_was_lost_is_claimed_again_after_the_lease(clinic):
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    now = timezone.now()
    [claimed] = notification_claim_due(now=now)
    assert notification_claim_due(now=now + timedelta(minutes=4)) == []
    assert notification_claim_due(now=now + timedelta(minutes=6)) == [claimed]


# ---------------------------------------------------------------------------------------------
# The patient's link pages


@pytest.fixture
def emailed(clinic, mail):
    """An appointment and the links of its confirmation email."""
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    send_due(timezone.now())
    return appointment, links_in(mail.messages()[0])


def test_confirm_link_asks_first_then_confirms_once(client, emailed):
    appointment, links = emailed
    [confirm] = links["confirm"]
    page = client.get(confirm)
    assert page.status_code == 200
    assert b"Please confirm that you will come to this session." in page.content
    appointment.refresh_from_db()
    assert appointment.confirmed_at is None
    done = client.post(confirm)
    assert done.status_code == 200
    assert b"Your session is confirmed." in done.content
    appointment.refresh_from_db()
    assert appointment.confirmed_via == "email link"
    again = client.post(confirm)
    assert again.status_code == 410
    assert b"You have already confirmed this session." in again.content


def test_cancel_link_cancels_for_the_patient_and_then_stops_working(client, emailed):
    appointment, links = emailed
    [cancel] = links["cancel"]
    assert b"Do you want to cancel this session?" in client.get(cancel).content
    assert client.post(cancel).status_code == 200
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_by) == (AppointmentStatus.CANCELLED, CancelledBy.PATIENT)
    assert rows(kind=NotificationKind.CANCELLATION) == [("cancellation", "pending")]
    again = client.post(cancel)
    assert again.status_code == 410
    assert b"This link is for an earlier state of your session" in again.content


def test_cancel_link_inside_the_late_cancellation_window_asks_to_call(client, emailed):
    appointment, links = emailed
    [cancel] = links["cancel"]
    with time_machine.travel(appointment.starts_at - timedelta(hours=23), tick=False):
        page = client.get(cancel)
        refused = client.post(cancel)
    assert page.status_code == 200
    assert ("Your session is less than 24 hours away, so it can no longer be cancelled online. "
            "Please call Riverside Clinic on +44 20 7946 0000.") in page.content.decode()
    assert b"<form" not in page.content
    assert refused.status_code == 409
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_links_stop_working_after_the_session_moves_and_expire(client, clinic, emailed):
    appointment, links = emailed
    with time_machine.travel(timezone.now() + timedelta(days=61), tick=False):
        expired = client.get(links["confirm"][0])
    assert expired.status_code == 410
    assert b"This link has expired." in expired.content
    appointment_reschedule(appointment=appointment, starts_at=clinic.at(next_weekday(1), 10),
                           rescheduled_by=clinic.front_desk.user)
    stale = client.post(links["confirm"][0])
    assert stale.status_code == 410
    appointment.refresh_from_db()
    assert appointment.confirmed_at is None
    forged = client.get(links["confirm"][0][:-5] + "xxxx/")
    assert forged.status_code == 400
    assert client.get(links["cancel"][0].replace("/cancel/", "/confirm/")).status_code == 400


def test_no_link_in_an_email_carries_the_patients_contact_data(emailed):
    appointment, links = emailed
    patient = appointment.patient
    for kind, paths in links.items():
        [path] = paths
        token = path.rstrip("/").rsplit("/", 1)[-1]
        payload = token.split(":")[0].lstrip(".")
        decoded = signing.b64_decode(payload.encode())
        if token.startswith("."):
            decoded = zlib.decompress(decoded)
        for contact in (patient.email, patient.email.split("@")[0], patient.phone):
            assert contact.encode() not in decoded, (kind, decoded)


def test_unsubscribe_link_for_an_old_address_changes_nothing(client, clinic, emailed):
    appointment, links = emailed
    patient_services.patient_update(patient=appointment.patient, updated_by=clinic.front_desk.user,
                                    email="new.address@example.org")
    page = client.post(links["unsubscribe"][0])
    assert b"You will not get emails from us at this address." in page.content
    assert Patient.objects.get(pk=appointment.patient_id).email_consent is True


def test_unsubscribe_link_turns_email_consent_off_after_asking(client, clinic, emailed):
    appointment, links = emailed
    [unsubscribe] = links["unsubscribe"]
    assert b"Do you want to stop getting emails" in client.get(unsubscribe).content
    assert Patient.objects.get(pk=appointment.patient_id).email_consent is True
    assert b"you will not get emails from us any more" in client.post(unsubscribe).content
    assert Patient.objects.get(pk=appointment.patient_id).email_consent is False
    book(clinic, appointment.course, clinic.at(next_weekday(2), 9))
    assert send_due(timezone.now()) == ["cancelled"]


def test_one_dispatch_writes_the_due_recall_and_queues_every_due_row_once(clinic):
    monday = date(2031, 3, 10)
    with time_machine.travel(clinic.at(monday - timedelta(days=7), 12), tick=False):
        course = make_course(clinic, planned_sessions=6)
        days = [monday + timedelta(days=d) for d in (0, 2, 4, 7, 9, 11)]
        booked = [book(clinic, course, clinic.at(day, 9)) for day in days]
    for appointment in booked:
        with time_machine.travel(appointment.starts_at + timedelta(minutes=40), tick=False):
            record(clinic, appointment)
    course_complete(course=course, completed_by=clinic.clinician.user)
    course_start_maintenance(course=course, created_by=clinic.clinician.user, interval_weeks=2)
    due = booked[-1].starts_at + timedelta(weeks=2)
    ahead = book(clinic, make_course(clinic), clinic.at(monday + timedelta(weeks=4), 9))
    due_before = set(Notification.objects.filter(status=NotificationStatus.PENDING, due_at__lte=due)
                     .values_list("pk", flat=True))
    assert len(due_before) == 8  # the six sessions' booking confirmations, the later session's, a baseline check-in
    queued: list[list[int]] = []

    def enqueue(batch, claimed_at):
        assert claimed_at == due
        queued.append(batch)

    with time_machine.travel(due, tick=False):
        assert notifications_dispatch_due(now=due, enqueue=enqueue) == 9
        assert notifications_dispatch_due(now=due, enqueue=enqueue) == 0
    recall = Notification.objects.get(kind=NotificationKind.MAINTENANCE_RECALL)
    sent_ids = [pk for batch in queued for pk in batch]
    assert len(sent_ids) == len(set(sent_ids))
    assert set(sent_ids) == due_before | {recall.pk}
    assert set(Notification.objects.filter(status=NotificationStatus.SENDING).values_list("pk", flat=True)) == set(
        sent_ids)
    assert Notification.objects.get(appointment=ahead, kind=NotificationKind.REMINDER).status == "pending"


# ---------------------------------------------------------------------------------------------
# The plain send path: no lock across the network, what a slow or lost answer does


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_a_stalled_send_completes_at_once_and_the_reminder_already_on_its_way_goes_out(clinic, mail):
    """The SMTP server stores the reminder, then stalls 15 s before its answer. The session's lock was
    released before SMTP began, so the front desk's cancel does not wait for it; the reminder, checked
    before the cancel, arrives once, and the cancellation notice follows it."""
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    send_due(timezone.now())  # the confirmation
    due = appointment.starts_at - timedelta(days=1)
    [claimed] = notification_claim_due(now=due)
    mail.hold_seconds = 15
    outcome: list[str] = []

    def send():
        try:
            outcome.append(notification_send(notification_id=claimed, claimed_at=due))
        finally:
            connections.close_all()

    sender = threading.Thread(target=send)
    sender.start()
    deadline = timezone.now() + timedelta(seconds=10)
    while mail.holding is None and timezone.now() < deadline:
        threading.Event().wait(0.05)
    assert mail.holding is not None, "the server never got the reminder"
    started = datetime.now(UTC)
    appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user, by=CancelledBy.CLINIC,
                       reason="Clinician ill")
    assert datetime.now(UTC) - started < timedelta(seconds=1)
    assert sender.is_alive(), "the send finished before the cancel: the stall proved nothing"
    sender.join(timeout=30)
    assert outcome == ["sent"]
    mail.hold_seconds = 0
    assert send_due(timezone.now()) == ["sent"]  # the cancellation notice
    subjects = [message["Subject"] for message in mail.messages()]
    assert subjects[1].startswith("Reminder: your session at Riverside Clinic")
    assert subjects[2].endswith("is cancelled")
    assert len(subjects) == 3


def test_an_answer_slower_than_the_timeout_after_data_is_not_sent_again(clinic, mail, settings):
    """The server stores the second message and answers after the client's timeout: whether it kept
    the message is unknown, so the row fails with that said, and nothing is sent again, neither at
    once nor later. The batch goes on over a new connection."""
    settings.EMAIL_TIMEOUT = 1
    for hour in (9, 10, 11):
        book(clinic, make_course(clinic), clinic.at(next_weekday(0), hour))
    now = timezone.now()
    claimed = notification_claim_due(now=now)
    handle_data = mail.handle_DATA

    async def slow_for_the_second(server, session, envelope):
        mail.hold_seconds = 2 if len(mail.messages()) == 1 else 0
        return await handle_data(server, session, envelope)

    mail.handle_DATA = slow_for_the_second
    with time_machine.travel(now, tick=False):
        assert notification_send_many(notification_ids=claimed, claimed_at=now) == {"sent": 2, "failed": 1}
    failed = Notification.objects.get(status=NotificationStatus.FAILED)
    assert (failed.pk, failed.attempts) == (claimed[1], 1)
    assert failed.last_error.startswith("No answer from the mail server after the message was handed over (")
    assert "It may have arrived, so it is not sent again" in failed.last_error
    assert send_due(now + timedelta(hours=3)) == []
    received = sorted(message["Message-ID"] for message in mail.messages())
    assert received == sorted(f"<ionto-notification-{pk}@clinic.example.org>" for pk in claimed)


def test_a_relay_that_cannot_be_reached_is_retried_later_as_nothing_was_sent(clinic, mail, settings):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    assert send_due(timezone.now()) == ["retry"]
    row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 1)
    assert row.last_error.startswith("ConnectionRefusedError")


def test_a_second_task_of_the_same_claim_skips_a_row_already_on_its_way(clinic, mail):
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    now = timezone.now()
    [claimed] = notification_claim_due(now=now)
    assert notification_send(notification_id=claimed, claimed_at=now) == "sent"
    assert notification_send(notification_id=claimed, claimed_at=now) == "skipped"
    # A claim of an older moment (its task queued before the row was claimed again) skips it too.
    assert notification_send(notification_id=claimed, claimed_at=now - timedelta(minutes=6)) == "skipped"
    assert len(mail.messages()) == 1


def test_a_success_after_a_temporary_failure_clears_the_error(clinic, mail):
    book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    mail.temporary_failures = 1
    now = timezone.now()
    assert send_due(now) == ["retry"]
    row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert row.last_error == "SMTP 451 4.3.0 Temporary failure, try again later"
    assert send_due(row.due_at) == ["sent"]
    row.refresh_from_db()
    assert (row.status, row.last_error, row.attempts) == (NotificationStatus.SENT, "", 2)


@pytest.mark.parametrize(("zone", "second_0130_utc", "abbreviation"), [
    ("Europe/London", datetime(2027, 10, 31, 1, 30, tzinfo=UTC), "GMT"),
    ("America/Toronto", datetime(2027, 11, 7, 6, 30, tzinfo=UTC), "EST"),
])
def test_a_session_in_the_repeated_hour_of_a_fall_back_night_is_in_the_invite_at_its_true_instant(
        mail, zone, second_0130_utc, abbreviation):
    """01:30 happens twice on a fall-back night; TZID with 01:30 would mean the first one (RFC 5545,
    3.3.5), an hour early. The invite gives that session in UTC and the subject names the zone."""
    with time_machine.travel(second_0130_utc - timedelta(days=10), tick=False):
        clinic = make_clinic(name="Night Clinic", time_zone=zone, opens=time(0), closes=time(23))
        clinic_services.opening_hours_add(location=clinic.location, weekday=6, opens_at=time(0),
                                          closes_at=time(23), created_by=clinic.admin)
        course = make_course(clinic)
        repeated = book(clinic, course, second_0130_utc)
        plain = book(clinic, course, second_0130_utc + timedelta(days=2, hours=6))
        assert send_due(timezone.now()) == ["sent", "sent"]
    message, later = sorted(mail.messages(), key=lambda message: "01:30" not in text_of(message))
    repeated_event, plain_event = (next(iter(calendar_of(each).walk("VEVENT"))) for each in (message, later))
    assert repeated_event.decoded("DTSTART") == second_0130_utc
    assert repeated_event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert "TZID" not in repeated_event["DTSTART"].params
    assert plain_event["DTSTART"].params["TZID"] == zone
    assert plain_event.decoded("DTSTART") == plain.starts_at
    local = clinic.location.local(repeated.starts_at)
    assert f"01:30 {abbreviation} ({zone})" in text_of(message)
    assert local.strftime("%H:%M") == "01:30"
    with time_machine.travel(second_0130_utc - timedelta(days=1), tick=False):
        assert send_due(timezone.now()) == ["sent"]
    assert mail.messages()[-1]["Subject"].endswith(f"01:30 {abbreviation}")


def test_a_cancellation_invite_cancels_the_same_event_with_a_raised_sequence(clinic, mail):
    appointment = book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    send_due(timezone.now())
    published = next(iter(calendar_of(mail.messages()[0]).walk("VEVENT")))
    appointment_cancel(appointment=appointment, recorded_by=clinic.front_desk.user, by=CancelledBy.CLINIC,
                       reason="Clinician ill")
    send_due(timezone.now())
    calendar = calendar_of(mail.messages()[1])
    cancelled = next(iter(calendar.walk("VEVENT")))
    assert (calendar["METHOD"], str(cancelled["STATUS"])) == ("CANCEL", "CANCELLED")
    assert str(cancelled["UID"]) == str(published["UID"])
    assert cancelled["SEQUENCE"] > published["SEQUENCE"]
