"""The pages a patient's email links open: confirm, cancel, stop emails.

Each page asks before it acts: GET shows what the link will do and a button, POST does it
(mail scanners follow links, and must not confirm or cancel anything). The links are signed,
expire, and are bound to the appointment's version, so they stop working after a change or a use.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clinic.ratelimit import rate_limited
from patients.services import audit_read, patient_set_sms_consent_by_phone, patient_update
from scheduling.booking.selectors import (
    PatientLinkUse,
    appointment_late_cancellation_message,
    appointment_patient_link_use,
)
from scheduling.booking.services import appointment_cancel_by_patient, appointment_confirm
from scheduling.models import Appointment, ConfirmationChannel
from scheduling.reminders.emails import (
    NOT_VALID,
    PatientLinkError,
    local_time_text,
    patient_link_read,
    patient_link_token,
    unsubscribe_read,
)
from scheduling.reminders.outbox import notification_record_sms_status
from scheduling.reminders.sms import START_WORDS, STOP_WORDS, short_link_read, twilio_signature_valid


def _page(request, *, title: str, message: str, status: int = 200, appointment: Appointment | None = None,
          button: str = "", done: bool = False):
    context = {"title": title, "message": message, "button": button, "done": done, "appointment": appointment,
               "when": local_time_text(appointment) if appointment else "",
               "location": appointment.location if appointment else None}
    return render(request, "patient/page.html", context, status=status)


def _appointment_for(token: str, action: str) -> Appointment:
    appointment_id, version = patient_link_read(token=token, action=action)
    appointment = Appointment.objects.select_related("location", "patient").filter(pk=appointment_id).first()
    if appointment is None:
        raise PatientLinkError(NOT_VALID, 400)
    if appointment.version != version:
        raise PatientLinkError("This link is for an earlier state of your session (it was moved, cancelled or "
                               "already answered). Please use the link in your latest email.", 410)
    audit_read(actor=None, patient=appointment.patient, obj=appointment)
    return appointment


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def appointment_confirm_page(request, token: str):
    try:
        appointment = _appointment_for(token, "confirm")
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    use = appointment_patient_link_use(appointment=appointment, action="confirm", now=timezone.now())
    if use == PatientLinkUse.ALREADY_CONFIRMED:
        return _page(request, title="Already confirmed", appointment=appointment, status=410,
                     message="You have already confirmed this session. Thank you.")
    if use == PatientLinkUse.NOT_AHEAD:
        return _page(request, title="Link not usable", appointment=appointment, status=410,
                     message="This session is no longer ahead, so it cannot be confirmed.")
    if request.method == "GET":
        return _page(request, title="Confirm your session", appointment=appointment, button="Yes, I will come",
                     message="Please confirm that you will come to this session.")
    try:
        appointment_confirm(appointment=appointment, via=ConfirmationChannel.EMAIL_LINK, confirmed_by=None,
                            expected_version=appointment.version)
    except ValidationError as error:
        return _page(request, title="Not confirmed", appointment=appointment, status=409,
                     message=" ".join(error.messages))
    return _page(request, title="Thank you", appointment=appointment, done=True,
                 message="Your session is confirmed. We look forward to seeing you.")


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def appointment_cancel_page(request, token: str):
    try:
        appointment = _appointment_for(token, "cancel")
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    use = appointment_patient_link_use(appointment=appointment, action="cancel", now=timezone.now())
    if use == PatientLinkUse.NOT_AHEAD:
        return _page(request, title="Link not usable", appointment=appointment, status=410,
                     message="This session is no longer ahead, so it cannot be cancelled here.")
    if use == PatientLinkUse.CALL_THE_CLINIC:
        return _page(request, title="Please call us", appointment=appointment, status=409 if request.method == "POST"
                     else 200, message=appointment_late_cancellation_message(appointment=appointment))
    if request.method == "GET":
        return _page(request, title="Cancel your session", appointment=appointment, button="Cancel this session",
                     message="Do you want to cancel this session? The time will be offered to someone else.")
    try:
        appointment_cancel_by_patient(appointment=appointment, expected_version=appointment.version,
                                      reason="Cancelled by the patient with the email link.")
    except ValidationError as error:
        return _page(request, title="Not cancelled", appointment=appointment, status=409,
                     message=" ".join(error.messages))
    return _page(request, title="Session cancelled", appointment=appointment, done=True,
                 message=f"Your session is cancelled. To book another time, call {appointment.location.phone}.")


# A mail program's one-click unsubscribe (RFC 8058) POSTs to the link without a cookie; the signed token
# in the link is what authorises the change, so there is no cross-site request to guard against.
@csrf_exempt
@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request, token: str):
    try:
        patient = unsubscribe_read(token=token)
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    if patient is None or not patient.email_consent:
        return _page(request, title="No more emails", done=True,
                     message="You will not get emails from us at this address.")
    if request.method == "GET":
        return _page(request, title="Stop emails", button="Stop emails to me",
                     message="Do you want to stop getting emails about your sessions? "
                             "You can ask the clinic to start them again at any time.")
    patient_update(patient=patient, updated_by=None, email_consent=False)
    return _page(request, title="No more emails", done=True,
                 message="Done: you will not get emails from us any more.")


@rate_limited("patient-link")
@require_http_methods(["GET"])
def short_link_page(request, token: str):
    """An SMS's short link: to the confirm page of the session it names, while the session is unchanged."""
    found = short_link_read(token)
    appointment = Appointment.objects.filter(pk=found[0]).first() if found else None
    if appointment is None:
        return _page(request, title="Link not usable", status=400,
                     message=NOT_VALID)
    if appointment.version != found[1]:
        return _page(request, title="Link not usable", status=410,
                     message="This link is for an earlier state of your session. Please use your latest message.")
    return redirect(reverse("patient:confirm", args=[patient_link_token(appointment=appointment, action="confirm")]))


def _twilio_params(request) -> dict[str, str] | None:
    """The webhook's form, or None when its X-Twilio-Signature is not the account's over the URL Twilio was given."""
    params = {name: request.POST[name] for name in request.POST}
    url = f"{settings.IONTO_PUBLIC_URL}{request.get_full_path()}"
    if not twilio_signature_valid(url=url, params=params, signature=request.headers.get("X-Twilio-Signature", "")):
        return None
    return params


_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_http_methods(["POST"])
def sms_status_callback(request):
    """Twilio's delivery report for a text: MessageSid, MessageStatus (queued, sent, delivered, undelivered...)."""
    params = _twilio_params(request)
    if params is None:
        return HttpResponseForbidden("Signature not valid.")
    notification_id = request.GET.get("n", "")
    if notification_id.isdigit():
        notification_record_sms_status(notification_id=int(notification_id), provider_id=params.get("MessageSid", ""),
                                       status=params.get("MessageStatus", ""), error_code=params.get("ErrorCode", ""))
    return HttpResponse(status=204)


@csrf_exempt
@require_http_methods(["POST"])
def sms_inbound(request):
    """A patient's reply by SMS: STOP (and its synonyms) turns SMS consent off, START turns it on again."""
    params = _twilio_params(request)
    if params is None:
        return HttpResponseForbidden("Signature not valid.")
    word = params.get("Body", "").strip().upper()
    if word in STOP_WORDS | START_WORDS:
        patient_set_sms_consent_by_phone(phone=params.get("From", ""), consent=word in START_WORDS)
    return HttpResponse(_EMPTY_TWIML, content_type="text/xml")
