"""The pages a patient's email links open: confirm, cancel, stop emails.

Each page asks before it acts: GET shows what the link will do and a button, POST does it
(mail scanners follow links, and must not confirm or cancel anything). The links are signed,
expire, and are bound to the appointment's version, so they stop working after a change or a use.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.ratelimit import rate_limited
from patients.services import audit_read, patient_update
from scheduling import services
from scheduling.emails import PatientLinkError, local_time_text, patient_link_read, unsubscribe_read
from scheduling.models import Appointment, AppointmentStatus, CancelledBy


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
        raise PatientLinkError("This link is not valid. Please check that you copied all of it.", 400)
    if appointment.version != version:
        raise PatientLinkError("This link is for an earlier state of your session (it was moved, cancelled or "
                               "already answered). Please use the link in your latest email.", 410)
    audit_read(actor=None, patient=appointment.patient, obj=appointment)
    return appointment


def _late_phone_message(appointment: Appointment) -> str:
    location = appointment.location
    return (f"Your session is less than {location.late_cancellation_hours} hours away, so it can no longer be "
            f"cancelled online. Please call {location.name} on {location.phone}.")


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def appointment_confirm_page(request, token: str):
    try:
        appointment = _appointment_for(token, "confirm")
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    if appointment.confirmed_at is not None:
        return _page(request, title="Already confirmed", appointment=appointment, status=410,
                     message="You have already confirmed this session. Thank you.")
    if appointment.status != AppointmentStatus.BOOKED or appointment.starts_at <= timezone.now():
        return _page(request, title="Link not usable", appointment=appointment, status=410,
                     message="This session is no longer ahead, so it cannot be confirmed.")
    if request.method == "GET":
        return _page(request, title="Confirm your session", appointment=appointment, button="Yes, I will come",
                     message="Please confirm that you will come to this session.")
    try:
        services.appointment_confirm(appointment=appointment, via="email link", expected_version=appointment.version)
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
    if appointment.status != AppointmentStatus.BOOKED or appointment.starts_at <= timezone.now():
        return _page(request, title="Link not usable", appointment=appointment, status=410,
                     message="This session is no longer ahead, so it cannot be cancelled here.")
    late = appointment.starts_at - timezone.now() < timedelta(hours=appointment.location.late_cancellation_hours)
    if late:
        return _page(request, title="Please call us", appointment=appointment, status=409 if request.method == "POST"
                     else 200, message=_late_phone_message(appointment))
    if request.method == "GET":
        return _page(request, title="Cancel your session", appointment=appointment, button="Cancel this session",
                     message="Do you want to cancel this session? The time will be offered to someone else.")
    try:
        services.appointment_cancel(appointment=appointment, cancelled_by=None, by=CancelledBy.PATIENT,
                                    reason="Cancelled by the patient with the email link.",
                                    expected_version=appointment.version)
    except ValidationError as error:
        return _page(request, title="Not cancelled", appointment=appointment, status=409,
                     message=" ".join(error.messages))
    return _page(request, title="Session cancelled", appointment=appointment, done=True,
                 message=f"Your session is cancelled. To book another time, call {appointment.location.phone}.")


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
