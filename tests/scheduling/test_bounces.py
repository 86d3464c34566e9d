"""Bounces and one-click unsubscribe: a delivery status notification (RFC 3464) read from standard input
by `manage.py notifications_read_bounce` marks the patient's address as failing, the front desk sees
it, nothing more goes to it until it changes; a mail program's one-click POST (RFC 8058) stops emails."""

import io
import re
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from patients import services as patient_services
from patients.models import Patient
from scheduling.models import Notification, NotificationKind, NotificationStatus
from scheduling.reports.selectors import report_period, report_reminders
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.test_notifications import mail, send_due  # noqa: F401  (the SMTP server fixture)

pytestmark = pytest.mark.django_db


def delivery_report(returned, *, action: str = "failed", status: str = "5.1.1") -> bytes:
    """A report as Postfix writes it: an explanation, the delivery status, the returned message's headers."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in returned.items())
    recipient = returned["To"]
    return (
        "From: MAILER-DAEMON@relay.example.org (Mail Delivery System)\r\n"
        "To: bounces@clinic.example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="report-boundary"\r\n'
        "\r\n"
        "--report-boundary\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n"
        "--report-boundary\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; relay.example.org\r\n"
        "Arrival-Date: Mon, 7 Dec 2026 08:00:01 +0000 (UTC)\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mx.example.org\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown\r\n"
        "\r\n"
        "--report-boundary\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        f"{headers}"
        "--report-boundary--\r\n"
    ).encode()


def read_bounce(raw: bytes, monkeypatch) -> str:
    """`manage.py notifications_read_bounce` with ``raw`` on its standard input, as a mail system pipes it."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("notifications_read_bounce", stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def bounced(mail, settings):  # noqa: F811
    """A confirmation sent to an address, with the bounce address as its envelope sender."""
    settings.IONTO_BOUNCE_ADDRESS = "bounces@clinic.example.org"
    senders = []
    async def record_sender(server, session, envelope, address, mail_options):
        senders.append(address)
        envelope.mail_from = address
        return "250 OK"

    mail.handle_MAIL = record_sender
    clinic = make_clinic(name="Dock Clinic")
    patient = make_patient(clinic, email="gone@example.org")
    appointment = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    assert send_due(timezone.now()) == ["sent"]
    [message] = mail.messages()
    assert senders == ["bounces@clinic.example.org"]
    assert message["From"] == "Ionto clinic <no-reply@ionto.localhost>"
    return clinic, patient, appointment, message


def test_a_hard_bounce_marks_the_address_failing_for_the_front_desk_and_stops_email_to_it(bounced, mail, client,  # noqa: F811
                                                                                       monkeypatch):
    clinic, patient, appointment, message = bounced
    assert read_bounce(delivery_report(message), monkeypatch) == (
        f"Bounce report read: 1 message marked failed: "
        f"{Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION).pk}.")
    patient.refresh_from_db()
    assert patient.email_failing_since is not None
    assert patient.email_failure == ("Bounced: 5.1.1 smtp; 550 5.1.1 <gone@example.org>: Recipient address "
                                     "rejected: User unknown")
    confirmation = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    assert confirmation.status == NotificationStatus.FAILED
    assert confirmation.last_error.endswith("(reported by the patient's mail server after it was sent)")

    client.force_login(clinic.front_desk.user)
    listing = client.get("/admin/patients/patient/").content.decode()
    assert "Bounced since" in listing and "User unknown" in listing
    assert "Bounced since" in client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()

    reminder_due = appointment.starts_at - timedelta(days=1)
    assert send_due(reminder_due) == ["cancelled"]
    assert Notification.objects.get(kind=NotificationKind.REMINDER).last_error == (
        "Not sent: the patient's email address bounced; correct it on the patient to send again.")
    assert len(mail.messages()) == 1

    patient_services.patient_update(patient=patient, updated_by=clinic.front_desk.user,
                                    email="found@example.org")
    patient.refresh_from_db()
    assert (patient.email_failing_since, patient.email_failure) == (None, "")
    book(clinic, appointment.course, clinic.at(next_weekday(2), 9))
    assert send_due(timezone.now()) == ["sent"]
    assert mail.messages()[-1]["To"] == "found@example.org"


def test_a_delay_a_report_about_another_message_or_an_old_address_changes_nothing(bounced, monkeypatch):
    clinic, patient, _, message = bounced
    assert read_bounce(delivery_report(message, action="delayed", status="4.4.1"), monkeypatch) == (
        "Bounce report read: 0 messages marked failed.")
    del message["Message-ID"]
    message["Message-ID"] = "<someone-else@example.net>"
    assert read_bounce(delivery_report(message), monkeypatch).endswith("0 messages marked failed.")
    assert read_bounce(b"From: someone@example.org\r\nSubject: Hello\r\n\r\nJust a reply.\r\n",
                       monkeypatch).endswith("0 messages marked failed.")
    patient.refresh_from_db()
    assert patient.email_failing_since is None
    assert Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION).status == NotificationStatus.SENT


def test_a_bounce_for_an_address_the_patient_no_longer_has_changes_nothing(bounced, monkeypatch):
    clinic, patient, _, message = bounced
    patient_services.patient_update(patient=patient, updated_by=clinic.front_desk.user, email="new@example.org")
    assert read_bounce(delivery_report(message), monkeypatch).endswith("0 messages marked failed.")
    patient.refresh_from_db()
    assert patient.email_failing_since is None


def test_one_click_unsubscribe_from_the_mail_program_stops_emails_without_a_cookie(mail):  # noqa: F811
    clinic = make_clinic()
    patient = make_patient(clinic, email="quiet@example.org")
    book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    send_due(timezone.now())
    [message] = mail.messages()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [url] = re.findall(r"<(https://[^>]+)>", message["List-Unsubscribe"])
    path = url.removeprefix("https://clinic.example.org")
    answer = Client(enforce_csrf_checks=True).post(path, data="List-Unsubscribe=One-Click",
                                                   content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert Patient.objects.get(pk=patient.pk).email_consent is False


def test_the_managers_reminders_report_counts_a_bounced_message_among_the_failed(bounced, monkeypatch):
    clinic, _, _, message = bounced
    today = timezone.localdate()
    period = report_period(user=clinic.manager.user, start=today, end=today, location_id=clinic.location.pk)
    assert report_reminders(period=period).totals["bounced"] == 0
    read_bounce(delivery_report(message), monkeypatch)
    report = report_reminders(period=period)
    assert (report.totals["sent"], report.totals["failed"], report.totals["bounced"]) == (0, 1, 1)
    assert report.failed_by_reason == [{"reason": "Bounced", "messages": 1}]
