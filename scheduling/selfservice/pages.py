"""The patients' own pages, opened from their emails: choose another time for a session, and book the
rest of a course.

Like the confirm and cancel pages (``scheduling.reminders.pages``) they are reached only through a
signed, expiring link with its own action, bound to the appointment's version (or to the number of
sessions a course has left to book), so a link stops working after a change or a use. GET shows, POST
acts; each request is rate-limited per address and leaves a read in the audit trail, each change the
booking service's own entry with the patient link as its actor. Nothing clinical is shown.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.errors import ConflictError
from clinic.ratelimit import rate_limited
from patients.services import audit_read
from scheduling.booking.courses import CourseDoesNotFit
from scheduling.booking.selectors import course_sessions_left_to_book
from scheduling.models import Appointment, AppointmentStatus
from scheduling.reminders.emails import (
    NOT_VALID,
    PatientLinkError,
    course_link_read,
    local_time_text,
    patient_link_read,
)
from scheduling.selfservice.selectors import (
    WEEKDAY_NAMES,
    appointment_move_options,
    course_for_patient_link,
    course_plan_unplaced_text,
    move_option_find,
)
from scheduling.selfservice.services import (
    COURSE_CHANGED,
    TAKEN,
    appointment_move_by_patient,
    appointment_move_refusal,
    course_book_rest_by_patient,
)
from scheduling.waitlist.selectors import waitlist_join_url

EARLIER_STATE = ("This link is for an earlier state of your session (it was moved, cancelled or already "
                 "answered). Please use the link in your latest email.")


def _call_us(location) -> str:
    return f"We cannot offer you a time online. Please call {location.name} on {location.phone}."


def _page(request, *, title: str, message: str, status: int = 200, location=None, when: str = ""):
    return render(request, "patient/selfservice_message.html",
                  {"title": title, "message": message, "location": location, "when": when}, status=status)


def _appointment_for(token: str) -> Appointment:
    """The session a move link names, at the version it was sent for; the same answer for a forged link,
    another action's link and an id that does not exist."""
    appointment_id, version = patient_link_read(token=token, action="move")
    appointment = (Appointment.objects.select_related("location", "patient", "course__patient", "clinician",
                                                      "room", "device").filter(pk=appointment_id).first())
    if appointment is None:
        raise PatientLinkError(NOT_VALID, 400)
    if appointment.version != version:
        raise PatientLinkError(EARLIER_STATE, 410)
    audit_read(actor=None, patient=appointment.patient, obj=appointment)
    return appointment


def _choose(request, appointment: Appointment, days, *, notice: str = "", status: int = 200):
    return render(request, "patient/move.html", {
        "title": "Choose another time", "appointment": appointment, "location": appointment.location,
        "when": local_time_text(appointment), "days": days, "notice": notice,
        "waitlist_url": waitlist_join_url(appointment=appointment),
    }, status=status)


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def appointment_move_page(request, token: str):
    """GET lists the free times; a POST of a time asks to confirm it, showing old and new; a POST with
    ``step=confirm`` moves the session."""
    try:
        appointment = _appointment_for(token)
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    location = appointment.location
    now = timezone.now()
    refusal = appointment_move_refusal(appointment=appointment, now=now)
    if refusal is not None:
        ahead = appointment.starts_at > now and appointment.status == AppointmentStatus.BOOKED
        return _page(request, title="Please call us" if ahead else "Link not usable", message=refusal,
                     location=location, when=local_time_text(appointment),
                     status=(409 if request.method == "POST" else 200) if ahead else 410)
    try:
        days = appointment_move_options(appointment=appointment, now=now)
    except ValidationError:  # the course cannot be booked online (its screening blocks booking, it is closed)
        return _page(request, title="Please call us", message=_call_us(location), location=location,
                     when=local_time_text(appointment), status=409 if request.method == "POST" else 200)
    if request.method == "GET":
        return _choose(request, appointment, days)
    option = move_option_find(days, request.POST.get("time", ""))
    if option is None:
        return _choose(request, appointment, days, notice=TAKEN, status=409)
    if request.POST.get("step") != "confirm":
        return render(request, "patient/move_confirm.html", {
            "title": "Move your session?", "appointment": appointment, "location": location,
            "when": local_time_text(appointment), "option": option,
        })
    try:
        moved = appointment_move_by_patient(appointment=appointment, option=option,
                                            expected_version=appointment.version)
    except ConflictError as error:
        if error.code == "version_mismatch":
            return _page(request, title="Link not usable", message=EARLIER_STATE, status=410)
        return _choose(request, appointment, appointment_move_options(appointment=appointment), notice=TAKEN,
                       status=409)
    except ValidationError as error:
        return _page(request, title="Please call us", message=" ".join(error.messages), location=location,
                     when=local_time_text(appointment), status=409)
    return _page(request, title="Your session has moved", location=location, when=local_time_text(moved),
                 message="Done: your session is at its new time. We have sent you an email with the details.")


# ---------------------------------------------------------------------------------------------
# Book the rest of a course


class CourseWishesForm(forms.Form):
    """The patient's wishes for the rest of a course: the weekdays, and a time window on those days."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)), coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Leave all empty for any day the clinic is open.")
    earliest = forms.TimeField(required=False, label="Not before", widget=forms.TimeInput(attrs={"type": "time"}))
    latest = forms.TimeField(required=False, label="Finished by", widget=forms.TimeInput(attrs={"type": "time"}))

    def wishes(self) -> dict:
        data = self.cleaned_data
        return {"weekdays": data["weekdays"] or None, "earliest": data["earliest"], "latest": data["latest"]}

    @property
    def narrowed(self) -> bool:
        data = self.cleaned_data
        return bool(data["weekdays"] and len(data["weekdays"]) < 7 or data["earliest"] or data["latest"])


WISH_FIELDS = ("weekdays", "earliest", "latest")


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def course_book_rest_page(request, token: str):
    """GET shows the wishes form, and with ``show`` the engine's plan for every remaining session; a POST
    books them all or none."""
    try:
        course_id, sessions_left = course_link_read(token=token)
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    course = course_for_patient_link(course_id=course_id)
    if course is None:
        return _page(request, title="Link not usable", message=NOT_VALID, status=400)
    audit_read(actor=None, patient=course.patient, obj=course)
    location = course.location
    if course_sessions_left_to_book(course=course) != sessions_left:
        return _page(request, title="Link not usable", message=COURSE_CHANGED, status=410)
    asked = request.method == "POST" or "show" in request.GET
    form = CourseWishesForm(request.POST if request.method == "POST" else (request.GET if asked else None))
    context = {"title": "Book your remaining sessions", "location": location, "sessions_left": sessions_left,
               "form": form, "plan": None, "reasons": [], "booked": False}
    if not asked or not form.is_valid():
        return render(request, "patient/book_rest.html", context, status=400 if asked else 200)
    try:
        plan = course_book_rest_by_patient(course=course, sessions_left=sessions_left,
                                           preview=request.method != "POST", **form.wishes())
    except CourseDoesNotFit as error:
        plan = error.plan
        context["not_booked"] = True
    except ConflictError as error:
        return _page(request, title="Link not usable", message=error.message, status=409)
    except ValidationError as error:
        wish_errors = {name: messages for name, messages in getattr(error, "message_dict", {}).items()
                       if name in WISH_FIELDS}
        if not wish_errors:  # the course cannot be booked online: its screening blocks booking, it is closed
            return _page(request, title="Please call us", message=_call_us(location), location=location,
                         status=409 if request.method == "POST" else 200)
        for name, messages in wish_errors.items():
            form.add_error(name, messages)
        return render(request, "patient/book_rest.html", context, status=400)
    context.update(plan=plan, booked=plan.booked, reasons=course_plan_unplaced_text(plan=plan, narrowed=form.narrowed),
                   sessions=[{"when": f"{location.local(session.starts_at):%A} {location.local(session.starts_at).day} "
                                      f"{location.local(session.starts_at):%B %Y, %H:%M %Z}",
                              "number": session.number} for session in plan.sessions])
    if plan.booked:
        context["title"] = "Your sessions are booked"
    return render(request, "patient/book_rest.html", context, status=409 if context.get("not_booked") else 200)
