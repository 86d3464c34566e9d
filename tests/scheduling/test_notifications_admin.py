"""The notification admin: failed emails with their error, and the resend action."""

import pytest
from django.utils import timezone

from scheduling.models import Notification, NotificationKind, NotificationStatus
from scheduling.reminders.outbox import notification_claim_due
from scheduling.reminders.sending import notification_send
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.test_notifications import mail  # noqa: F401  (the SMTP server fixture)

pytestmark = pytest.mark.django_db


def test_failed_email_shows_its_error_and_resend_queues_only_failed_rows(client, mail):  # noqa: F811
    clinic = make_clinic()
    patient = make_patient(clinic, email="bounced@example.org", last_name="Bounce")
    book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    mail.refused_recipients = {"bounced@example.org"}
    now = timezone.now()
    for pk in notification_claim_due(now=now):
        notification_send(notification_id=pk, claimed_at=now)
    failed = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
    reminder = Notification.objects.get(kind=NotificationKind.REMINDER)
    client.force_login(clinic.admin)
    page = client.get("/admin/scheduling/notification/?status__exact=failed")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Recipient refused: bounced@example.org: 550 5.1.1" in text
    assert "Alex Bounce" in text
    response = client.post("/admin/scheduling/notification/", {
        "action": "resend", "_selected_action": [failed.pk, reminder.pk]}, follow=True)
    assert "1 email queued again; they go out within a minute. 1 not failed, left as they are." in (
        response.content.decode())
    failed.refresh_from_db()
    reminder.refresh_from_db()
    assert (failed.status, failed.attempts) == (NotificationStatus.PENDING, 0)
    assert failed.last_error.startswith(f"Queued again by {clinic.admin.username} on ")
    assert reminder.status == NotificationStatus.PENDING and reminder.attempts == 0
    assert client.get(f"/admin/scheduling/notification/{failed.pk}/change/").status_code == 200
    assert client.get("/admin/scheduling/notification/add/").status_code == 403
