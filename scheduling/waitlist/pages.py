"""The waitlist's patient pages: "Ask for an earlier time" (a signed link bound to a booked session's
version) and an offer's page (the link in the offer email). GET shows, POST acts; both are rate-limited
per address, answer an unknown and a forged link alike, write the audit trail and show nothing clinical."""

from __future__ import annotations

from datetime import date, time, timedelta

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinic.models import Weekday
from clinic.ratelimit import rate_limited
from patients.services import audit_read
from scheduling.models import Appointment
from scheduling.reminders.emails import (
    NOT_VALID,
    PatientLinkError,
    local_time_text,
    patient_link_read,
    waitlist_offer_read,
    waitlist_offer_url,
)
from scheduling.waitlist.models import WaitlistEntry, WaitlistOffer, WaitlistOfferStatus
from scheduling.waitlist.selectors import (
    EXPIRED_MESSAGE,
    TAKEN_MESSAGE,
    waitlist_offer_is_open,
    waitlist_offers_open_for,
)
from scheduling.waitlist.services import waitlist_entry_create, waitlist_offer_accept

DEFAULT_WAIT = timedelta(weeks=2)


def _when(location, moment) -> str:
    return local_time_text(Appointment(location=location, starts_at=moment))


def _page(request, *, title: str, message: str, status: int = 200, location=None, moment=None, **extra):
    context = {"title": title, "message": message, "location": location,
               "when": _when(location, moment) if location is not None and moment is not None else "",
               "weekdays": Weekday.choices, **extra}
    return render(request, "patient/waitlist.html", context, status=status)


def _join_appointment(token: str) -> Appointment:
    appointment_id, version = patient_link_read(token=token, action="waitlist-join")
    appointment = (Appointment.objects.select_related("location", "patient", "course__patient")
                   .filter(pk=appointment_id).first())
    if appointment is None:
        raise PatientLinkError(NOT_VALID, 400)
    if appointment.version != version:
        raise PatientLinkError("This link is for an earlier state of your session (it was moved or cancelled). "
                               "Please use the link in your latest email.", 410)
    audit_read(actor=None, patient=appointment.patient, obj=appointment)
    return appointment


def _join_form(request, appointment: Appointment) -> dict:
    today = appointment.location.local(timezone.now()).date()
    if request.method == "POST":
        return {"weekdays": [int(day) for day in request.POST.getlist("weekdays") if day.isdigit()],
                "earliest": request.POST.get("earliest", ""), "latest": request.POST.get("latest", ""),
                "until": request.POST.get("until", "")}
    until = min(appointment.local_date - timedelta(days=1), today + DEFAULT_WAIT)
    return {"weekdays": list(range(5)), "earliest": "08:00", "latest": "18:00", "until": until.isoformat()}


def _parsed(form: dict) -> tuple[dict, list[str]]:
    values, errors = {"weekdays": form["weekdays"]}, []
    for name, parse, words in (("earliest", time.fromisoformat, "the earliest time"),
                               ("latest", time.fromisoformat, "the latest time"),
                               ("until", date.fromisoformat, "the last day")):
        try:
            values[name] = parse(form[name])
        except ValueError:
            errors.append(f"Give {words}.")
    return values, errors


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def waitlist_join_page(request, token: str):
    """Ask for an earlier time than a booked session: weekdays, hours and the last day that suit."""
    try:
        appointment = _join_appointment(token)
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    shown = {"location": appointment.location, "moment": appointment.starts_at}
    if appointment.status != "booked" or appointment.starts_at <= timezone.now():
        return _page(request, title="Link not usable", status=410, message="This session is no longer ahead.",
                     **shown)
    if WaitlistEntry.objects.filter(course=appointment.course_id, status__in=("waiting", "offered")).exists():
        return _page(request, title="You are on the waitlist", **shown,
                     message="You are already on our waitlist for an earlier time. We will email you when one "
                             "comes free.")
    form = _join_form(request, appointment)
    intro = ("Tell us which days and times suit you. When an earlier time comes free we email you an offer; "
             "the first to take it gets it. Your session stays booked until you take a new time.")
    if request.method == "GET":
        return _page(request, title="Ask for an earlier time", message=intro, form=form, **shown)
    values, errors = _parsed(form)
    if not errors:
        try:
            waitlist_entry_create(course=appointment.course, appointment=appointment, created_by=None, **values)
        except ValidationError as error:
            errors = error.messages
    if errors:
        return _page(request, title="Ask for an earlier time", message=intro, form=form, errors=errors,
                     status=400, **shown)
    return _page(request, title="You are on the waitlist", done=True, **shown,
                 message=f"Thank you. We will email you if an earlier time comes free before {values['until']:%d %B}.")


def _offer_for(token: str) -> WaitlistOffer:
    offer = (WaitlistOffer.objects.select_related("slot__location", "entry__patient")
             .filter(pk=waitlist_offer_read(token=token)).first())
    if offer is None:
        raise PatientLinkError(NOT_VALID, 400)
    audit_read(actor=None, patient=offer.entry.patient, obj=offer)
    return offer


def _next_offers(offer: WaitlistOffer) -> list[dict]:
    return [{"when": _when(other.slot.location, other.slot.starts_at), "url": waitlist_offer_url(offer_id=other.pk)}
            for other in waitlist_offers_open_for(entry=offer.entry, now=timezone.now()) if other.pk != offer.pk]


@rate_limited("patient-link")
@require_http_methods(["GET", "POST"])
def waitlist_offer_page(request, token: str):
    """An offered time: GET shows it with a button, POST takes it (first come); the others read "taken"."""
    try:
        offer = _offer_for(token)
    except PatientLinkError as error:
        return _page(request, title="Link not usable", message=error.message, status=error.status)
    shown = {"location": offer.slot.location, "moment": offer.slot.starts_at}
    if offer.status == WaitlistOfferStatus.ACCEPTED:
        return _page(request, title="This time is yours", done=True, **shown,
                     message="You have taken this time. We have emailed you the details.")
    if offer.status == WaitlistOfferStatus.TAKEN or offer.slot.status == "taken":
        return _page(request, title="This time has been taken", status=409 if request.method == "POST" else 200,
                     message=TAKEN_MESSAGE + " You stay on the waitlist.", next_offers=_next_offers(offer), **shown)
    if offer.status == WaitlistOfferStatus.WITHDRAWN:
        return _page(request, title="Offer withdrawn", status=410, **shown,
                     message="This offer was withdrawn: you are no longer on the waitlist for this course.")
    if not waitlist_offer_is_open(offer=offer, now=timezone.now()):
        return _page(request, title="Offer expired", status=410, message=EXPIRED_MESSAGE,
                     next_offers=_next_offers(offer), **shown)
    if request.method == "GET":
        return _page(request, title="An earlier time for you", button="Take this time", **shown,
                     message="This time has come free. The first patient to take it gets it. This offer ends "
                             f"{_when(offer.slot.location, offer.expires_at)}.")
    try:
        waitlist_offer_accept(offer=offer)
    except ValidationError as error:
        taken = getattr(error, "code", "") == "waitlist_taken"
        return _page(request, title="This time has been taken" if taken else "Not booked", status=409,
                     message=" ".join(error.messages) + (" You stay on the waitlist." if taken else ""),
                     next_offers=_next_offers(offer), **shown)
    return _page(request, title="This time is yours", done=True, **shown,
                 message="Done: the time is booked for you. We have emailed you the details.")
