"""SMS reminders through the same outbox, against a local server speaking Twilio's Messages API
(devtools/twilio_local.py): one text per reminder, the signed delivery report, STOP and START replies,
a forged callback refused, numbers validated as E.164."""

import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from devtools.twilio_local import LocalTwilio, post_signed
from patients import services as patient_services
from patients.models import Patient
from scheduling.models import Notification, NotificationChannel, NotificationKind, NotificationStatus
from scheduling.reminders.sms import GSM7, sms_text
from tests.factories import book, make_clinic, make_course, make_patient, next_weekday
from tests.scheduling.test_notifications import mail, send_due  # noqa: F401  (the SMTP server fixture)

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT, TOKEN = "AC" + "0123456789abcdef" * 2, "local-auth-token"


@pytest.fixture
def twilio(settings, live_server, mail):  # noqa: F811
    settings.IONTO_PUBLIC_URL = live_server.url
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT, TOKEN
    settings.TWILIO_FROM_NUMBER = "+447700900000"
    with LocalTwilio(ACCOUNT, TOKEN) as server:
        settings.TWILIO_API_URL = server.url
        yield server


def wait_until(predicate, timeout: float = 10) -> None:
    """Polls until ``predicate`` holds (a wait for the worker, not a judged time)."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        time.sleep(0.05)
    assert predicate(), "the condition never held"


def sms_patient(clinic, **fields) -> Patient:
    return make_patient(clinic, phone="07400 123456", sms_consent=True, reminder_channel="sms", **fields)


def test_a_patient_who_chose_sms_gets_one_text_per_reminder_and_the_report_marks_it_delivered(twilio, mail,  # noqa: F811
                                                                                            live_server):
    clinic = make_clinic(name="Quay Clinic")
    patient = sms_patient(clinic)
    appointment = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    assert sorted(Notification.objects.values_list("kind", "channel")) == [
        (NotificationKind.BOOKING_CONFIRMATION, NotificationChannel.EMAIL),
        (NotificationKind.CHECK_IN, NotificationChannel.EMAIL),  # the baseline check-in goes by email only
        (NotificationKind.REMINDER, NotificationChannel.SMS)]
    assert send_due(timezone.now()) == ["sent"]  # the confirmation, by email
    assert send_due(appointment.starts_at - timezone.timedelta(days=1)) == ["sent"]
    [text] = twilio.messages
    assert (text["to"], text["from"]) == ("+447400123456", "+447700900000")
    local = clinic.location.local(appointment.starts_at)
    assert text["body"].startswith(f"Quay Clinic: reminder of your session {local:%a} {local.day} {local:%b %H:%M}. "
                                   f"Confirm: {live_server.url}/p/s/")
    assert len(text["body"]) <= 160 and set(text["body"]) <= GSM7
    for clinical in ("hyperhidrosis", "iontophoresis", "sweat", "drug", "treatment"):
        assert clinical not in text["body"].lower()
    reminder = Notification.objects.get(kind=NotificationKind.REMINDER)
    assert (reminder.status, reminder.message_id) == (NotificationStatus.SENT, text["sid"])
    wait_until(lambda: Notification.objects.get(pk=reminder.pk).delivery_status == "delivered")
    wait_until(lambda: twilio.callbacks == [204])  # the report's answer, as the provider got it
    assert len(mail.messages()) == 1  # the email confirmation only; the reminder went by SMS

    link = text["body"].split("Confirm: ")[1].split()[0]
    page = Client().get(link.removeprefix(live_server.url), follow=True)
    assert b"Please confirm that you will come to this session." in page.content


def test_a_forged_callback_or_reply_is_refused_and_changes_nothing(twilio, live_server):
    clinic = make_clinic()
    patient = sms_patient(clinic)
    appointment = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    send_due(appointment.starts_at - timezone.timedelta(days=1))
    reminder = Notification.objects.get(kind=NotificationKind.REMINDER)
    wait_until(lambda: Notification.objects.get(pk=reminder.pk).delivery_status == "delivered")
    status_url = f"{live_server.url}/p/sms/status/?n={reminder.pk}"
    forged = {"MessageSid": reminder.message_id, "MessageStatus": "undelivered", "AccountSid": ACCOUNT}
    assert post_signed(TOKEN, status_url, forged, forged=True) == 403
    assert Notification.objects.get(pk=reminder.pk).delivery_status == "delivered"
    assert twilio.reply(webhook=f"{live_server.url}/p/sms/inbound/", from_="+447400123456", body="STOP",
                        forged=True) == 403
    assert Patient.objects.get(pk=patient.pk).sms_consent is True


def test_stop_turns_sms_consent_off_so_the_next_reminder_is_not_texted_and_start_turns_it_on(twilio, live_server):
    clinic = make_clinic()
    patient = sms_patient(clinic)
    inbound = f"{live_server.url}/p/sms/inbound/"
    assert twilio.reply(webhook=inbound, from_="+447400123456", body=" stop ") == 200
    patient.refresh_from_db()
    assert (patient.sms_consent, patient.sms_consent_at) == (False, None)
    appointment = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(1), 9))
    assert send_due(appointment.starts_at - timezone.timedelta(days=1)) == ["sent", "cancelled"]  # email, SMS
    reminder = Notification.objects.get(kind=NotificationKind.REMINDER)
    assert (reminder.status, reminder.last_error) == (NotificationStatus.CANCELLED,
                                                     "Not sent: the patient has not agreed to SMS.")
    assert twilio.messages == []
    assert twilio.reply(webhook=inbound, from_="+447400123456", body="START") == 200
    assert Patient.objects.get(pk=patient.pk).sms_consent is True


def test_sms_consent_needs_a_valid_number_and_the_text_fits_one_segment():
    clinic = make_clinic(name="Riverside Clinic")
    with pytest.raises(ValidationError) as refused:
        make_patient(clinic, phone="12", sms_consent=True)
    assert refused.value.message_dict["phone"] == [
        "A valid mobile number is needed for reminders by SMS (e.g. +44 7700 900123)."]
    patient = sms_patient(clinic)
    with pytest.raises(ValidationError):
        patient_services.patient_update(patient=patient, updated_by=clinic.front_desk.user, phone="not a number")
    appointment = book(clinic, make_course(clinic, patient), clinic.at(next_weekday(0), 9))
    reminder = Notification.objects.get(kind=NotificationKind.REMINDER)
    text = sms_text(notification=reminder, appointment=appointment)
    assert len(text) <= 160 and set(text) <= GSM7
