"""The front desk's pages inside the admin: the day schedule, the day sheet, booking a course and
moving a session. The day schedule is read by desk/selectors.py; every write calls a service.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from clinic.admin import add_service_errors, plain_message
from clinic.display import location_time, location_time_range, location_zone
from clinic.models import Device, Location, Room, Staff, StaffRole, Weekday
from clinic.redirects import safe_next
from clinic.selectors import locations_visible_to
from patients.models import CONTRAINDICATIONS
from scheduling.booking.courses import CourseDoesNotFit, course_book, course_reschedule_from
from scheduling.booking.selectors import appointment_arrival_refusal, slot_list_available
from scheduling.booking.services import appointment_reschedule
from scheduling.desk.selectors import (
    CARD_STATES,
    GROUPINGS,
    appointment_list_for_day,
    card_badges,
    day_schedule_build,
    day_schedule_url,
    resource_columns,
)
from scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus, BodySite, Indication


def slot_at(*, request, location_id: str, day: str, at: str, chosen: dict) -> dict[str, int]:
    """The engine's clinician, room and device free together at one time (those not chosen already);
    nothing when the values are not a day and a time of one of the user's locations."""
    try:
        location = locations_visible_to(user=request.user).get(pk=int(location_id))
        local_day = date.fromisoformat(day)
        wall = time.fromisoformat(at)
    except (ValueError, Location.DoesNotExist):
        return {}
    narrow = {}
    for name, model in (("clinician", Staff), ("room", Room), ("device", Device)):
        value = chosen.get(name)
        if value and str(value).isdigit():
            narrow[name] = model.objects.filter(pk=int(value)).first()
    starts_at = location.at(local_day, wall)
    minutes = 30  # the usual session; the course chosen next sets the real length when booking
    slots = slot_list_available(location=location, start=local_day, end=local_day + timedelta(days=1),
                                minutes=minutes, **{k: v for k, v in narrow.items() if v is not None})
    slot = next((slot for slot in slots if slot.starts_at == starts_at), None)
    if slot is None:
        return {}
    return {"clinician": slot.clinician.pk, "room": slot.room.pk, "device": slot.device.pk}


# ---------------------------------------------------------------------------------------------
# Views (wrapped by AppointmentAdmin.get_urls in admin_site.admin_view)


def _chosen_location(request) -> Location:
    locations = locations_visible_to(user=request.user)
    wanted = request.GET.get("location")
    if wanted:
        try:
            return locations.get(pk=int(wanted))
        except (ValueError, Location.DoesNotExist) as error:
            raise Http404("No such location, or not one of yours.") from error
    location = locations.first()
    if location is None:
        raise PermissionDenied("You do not work at any location.")
    return location


def _chosen_day(request, location: Location) -> date:
    value = request.GET.get("date")
    if value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            messages.error(request, f"{value!r} is not a date like 2026-12-01; showing today.")
    return location.local(timezone.now()).date()


def _chosen_grouping(request) -> str:
    """A column per room (the default), clinician or device."""
    by = request.GET.get("by", "room")
    return by if by in GROUPINGS else "room"


def day_schedule_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    location = _chosen_location(request)
    day = _chosen_day(request, location)
    by = _chosen_grouping(request)
    schedule = day_schedule_build(location=location, day=day, by=by)
    active = [a for a in schedule.appointments if a.status in ACTIVE_STATUSES]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Day schedule: {location.name}, {day:%A %d %B %Y}",
        "schedule": schedule,
        "locations": list(locations_visible_to(user=request.user)),
        "groupings": GROUPINGS,
        "states": CARD_STATES,
        "previous_url": day_schedule_url(location_id=location.pk, day=day - timedelta(days=1), by=by),
        "next_url": day_schedule_url(location_id=location.pk, day=day + timedelta(days=1), by=by),
        "today_url": day_schedule_url(location_id=location.pk, day=location.local(timezone.now()).date(), by=by),
        "sheet_url": reverse("admin:scheduling_appointment_day_sheet") + "?" + urlencode(
            {"location": location.pk, "date": day.isoformat()}),
        "here": request.get_full_path(),
        "active_count": len(active),
        "opts": model_admin.model._meta,
        "can_book": model_admin.has_add_permission(request),
    }
    return TemplateResponse(request, "scheduling/admin/day_schedule.html", context)


def calendar_view(model_admin, request):
    """The front desk's calendar (EventCalendar, served from our static files): day and week by room,
    clinician or device. The page only draws; it reads ``/api/v1/calendar/`` and changes sessions through
    the API's appointment endpoints, so every rule and message is the booking services' own."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    location = _chosen_location(request)
    day = _chosen_day(request, location)
    by = _chosen_grouping(request)
    view = request.GET.get("view", "week")
    user = request.user
    opening = list(location.opening_hours.all())
    config = {
        # The columns and hours the calendar opens with, so the sessions, when they arrive, draw once.
        "resources": [{"id": column.key, "title": column.label, "note": column.note}
                      for column in resource_columns(location=location, by=by)],
        "dayStarts": f"{min([h.opens_at for h in opening], default=time(8)):%H:00:00}",
        "dayEnds": f"{max([h.closes_at for h in opening], default=time(18)):%H:%M:00}",
        "location": location.pk, "zone": location.time_zone, "date": day.isoformat(), "by": by,
        "view": "resourceTimeGridDay" if view == "day" else "resourceTimeGridWeek",
        "slotMinutes": location.slot_minutes, "canChange": model_admin.has_change_permission(request),
        "canBook": model_admin.has_add_permission(request),
        "canAddPatient": user.has_perm("patients.add_patient"), "canScreen": user.has_perm("patients.add_screening"),
        "contraindications": list(CONTRAINDICATIONS.items()),
        "indications": list(Indication.choices), "bodySites": list(BodySite.choices),
        "urls": {
            "api": reverse("api:calendar").removesuffix("calendar/"),
            "session": reverse("admin:scheduling_appointment_change", args=[0]),
            "move": reverse("admin:scheduling_appointment_move", args=[0]),
            "bookNext": reverse("admin:scheduling_appointment_add"),
            "patient": reverse("admin:patients_patient_change", args=[0]),
        },
    }
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Calendar: {location.name}",
        "location": location, "config": config, "states": CARD_STATES, "groupings": GROUPINGS,
        "locations": list(locations_visible_to(user=user)),
        "zone_text": f"{location.time_zone} ({location.local(timezone.now()):%Z})",
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "scheduling/admin/calendar.html", context)


def day_sheet_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    location = _chosen_location(request)
    day = _chosen_day(request, location)
    appointments = [a for a in appointment_list_for_day(location=location, day=day)
                    if a.status != AppointmentStatus.ENTERED_IN_ERROR]
    now = timezone.now()
    today = location.local(now).date()
    rows = [{"appointment": a, "state": a.display_state.value, "state_label": a.display_state_label,
             "time_text": location_time_range(location, a.starts_at, a.ends_at), "badges": card_badges(a, today),
             "can_mark_arrived": appointment_arrival_refusal(appointment=a, now=now) is None}
            for a in appointments]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Day sheet: {location.name}, {day:%A %d %B %Y}",
        "location": location, "day": day, "rows": rows,
        "zone_text": location_zone(location, location.at(day, time(12))),
        "schedule_url": day_schedule_url(location_id=location.pk, day=day),
        "previous_url": reverse("admin:scheduling_appointment_day_sheet") + "?" + urlencode(
            {"location": location.pk, "date": (day - timedelta(days=1)).isoformat()}),
        "next_url": reverse("admin:scheduling_appointment_day_sheet") + "?" + urlencode(
            {"location": location.pk, "date": (day + timedelta(days=1)).isoformat()}),
        "here": request.get_full_path(),
        "opts": model_admin.model._meta,
        "can_change": model_admin.has_change_permission(request),
    }
    return TemplateResponse(request, "scheduling/admin/day_sheet.html", context)


# ---------------------------------------------------------------------------------------------
# Book a whole course: preferences, the engine's preview with every conflict explained, confirm


class CourseBookForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        choices=[(day.value, day.label[:3]) for day in Weekday], coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Days the patient can come; none ticked: any day the clinic is open.")
    earliest = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                               help_text="Start no earlier than (local time).")
    latest = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                             help_text="End no later than (local time).")
    clinician = forms.ModelChoiceField(queryset=Staff.objects.none(), required=False, empty_label="Any clinician")
    first_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                 help_text="First day to book from; empty: today.")

    def __init__(self, *args, location: Location, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = Staff.objects.filter(
            role=StaffRole.CLINICIAN, is_active=True, locations=location).select_related("user")

    def preferences(self) -> dict:
        data = self.cleaned_data
        return {"weekdays": data["weekdays"] or None, "earliest": data["earliest"], "latest": data["latest"],
                "clinician": data["clinician"], "first_date": data["first_date"]}


def _plan_rows(plan, location: Location) -> list[dict]:
    rows = []
    for session in plan.sessions:
        start = location.local(session.starts_at)
        rows.append({"number": session.number, "day": f"{start:%a %d %b %Y}",
                     "time": location_time_range(location, session.starts_at, session.ends_at),
                     "clinician": str(session.clinician), "room": session.room.name, "device": str(session.device),
                     "reason": "", "fits": True})
    for unplaced in plan.unplaced:
        rows.append({"number": unplaced.number, "day": "", "time": "", "clinician": "", "room": "", "device": "",
                     "reason": unplaced.reason, "fits": False})
    return sorted(rows, key=lambda row: row["number"])


def course_book_view(model_admin, request, course_id: int):
    """GET: the preferences. POST preview: the engine's plan. POST confirm: book it all, or nothing."""

    if not model_admin.has_change_permission(request) or not request.user.has_perm("scheduling.add_appointment"):
        raise PermissionDenied
    course = model_admin.get_object(request, str(course_id))
    if course is None:
        raise Http404("No such course, or not at one of your locations.")
    location = course.location
    form = CourseBookForm(request.POST or None, location=location)
    plan, rows, confirmed = None, [], False
    if request.method == "POST" and form.is_valid():
        confirm = "confirm" in request.POST
        try:
            plan = course_book(course=course, booked_by=request.user, preview=not confirm, **form.preferences())
        except CourseDoesNotFit as error:
            plan = error.plan
            messages.error(request, "Nothing was booked: " + plain_message(error))
        except (ValidationError, PermissionError) as error:
            add_service_errors(form, error)
        if plan is not None and plan.booked:
            first = plan.sessions[0]
            count = len(plan.sessions)
            messages.success(request, f"Booked {count} session{'s' if count != 1 else ''} for {course.patient}, from "
                                      f"{location_time(location, first.starts_at)}. The patient gets one "
                                      "confirmation email for the whole course.")
            return HttpResponseRedirect(day_schedule_url(location_id=location.pk,
                                                         day=location.local(first.starts_at).date()))
        if plan is not None:
            rows = _plan_rows(plan, location)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Book the course of {course.patient}",
        "course": course, "form": form, "plan": plan, "rows": rows, "confirmed": confirmed,
        "zone_text": location_zone(location, timezone.now()),
        "already": course.appointments.filter(status__in=ACTIVE_STATUSES).count(),
        "opts": model_admin.model._meta,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "scheduling/admin/course_book.html", context)


# ---------------------------------------------------------------------------------------------
# Move one session: the engine's proposals near the old time of day, or a time typed in


PROPOSAL_DAYS = 14
PROPOSALS_PER_DAY = 3


class RescheduleForm(forms.Form):
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    at = forms.TimeField(label="Time", widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"))
    clinician = forms.ModelChoiceField(queryset=Staff.objects.none(), required=False, empty_label="Same clinician")
    room = forms.ModelChoiceField(queryset=Room.objects.none(), required=False, empty_label="Same room")
    device = forms.ModelChoiceField(queryset=Device.objects.none(), required=False, empty_label="Same device")
    keep_cadence = forms.BooleanField(required=False, label="Move the later sessions of the course too, keeping "
                                                             "its rhythm")

    def __init__(self, *args, location: Location, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = Staff.objects.filter(
            role=StaffRole.CLINICIAN, is_active=True, locations=location).select_related("user")
        self.fields["room"].queryset = Room.objects.filter(location=location, is_active=True)
        self.fields["device"].queryset = Device.objects.filter(location=location, in_service=True)


def reschedule_proposals(*, appointment: Appointment, today: date) -> list[dict]:
    """Up to three free times a day over the next two weeks, nearest the session's own time of day,
    with its own clinician, room and device where they are free."""
    location = appointment.location
    slots = slot_list_available(location=location, start=today, end=today + timedelta(days=PROPOSAL_DAYS),
                                course=appointment.course, moving=appointment)
    own = location.local(appointment.starts_at)
    own_minutes = own.hour * 60 + own.minute
    by_day: dict[date, list] = {}
    for slot in slots:
        if slot.starts_at == appointment.starts_at or slot.starts_at <= timezone.now():
            continue
        by_day.setdefault(location.local(slot.starts_at).date(), []).append(slot)
    proposals = []
    for day, day_slots in sorted(by_day.items()):
        def distance(slot):
            local = location.local(slot.starts_at)
            return abs(local.hour * 60 + local.minute - own_minutes)
        for slot in sorted(day_slots, key=distance)[:PROPOSALS_PER_DAY]:
            clinician = next((c for c in slot.clinicians if c.pk == appointment.clinician_id), slot.clinician)
            room = next((r for r in slot.rooms if r.pk == appointment.room_id), slot.room)
            device = next((d for d in slot.devices if d.pk == appointment.device_id), slot.device)
            local = location.local(slot.starts_at)
            proposals.append({"day": day, "at": f"{local:%H:%M}",
                              "label": location_time(location, slot.starts_at, "%a %d %b %H:%M"),
                              "clinician": clinician, "room": room, "device": device})
    return proposals


def appointment_reschedule_view(model_admin, request, appointment_id: int):

    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    appointment = model_admin.get_object(request, str(appointment_id))
    if appointment is None:
        raise Http404("No such appointment, or not at one of your locations.")
    location = appointment.location
    back = safe_next(request, day_schedule_url(location_id=location.pk, day=appointment.local_date))
    form = RescheduleForm(request.POST or None, location=location)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        resources = {"clinician": data["clinician"], "room": data["room"], "device": data["device"]}
        try:
            starts_at = location.at_typed(data["day"], data["at"])
            if data["keep_cadence"]:
                plan = course_reschedule_from(appointment=appointment, rescheduled_by=request.user,
                                              starts_at=starts_at, expected_version=_version(request), **resources)
                moved = len(plan.sessions)
                messages.success(request, f"Moved the session of {appointment.patient} to "
                                          f"{location_time(location, starts_at, '%a %d %b %H:%M')}; {moved - 1} later "
                                          f"session{'s' if moved != 2 else ''} re-planned to keep the rhythm.")
            else:
                appointment_reschedule(appointment=appointment, starts_at=starts_at, rescheduled_by=request.user,
                                       expected_version=_version(request), **resources)
                messages.success(request, f"Moved the session of {appointment.patient} to "
                                          f"{location_time(location, starts_at)}.")
            return HttpResponseRedirect(day_schedule_url(location_id=location.pk, day=data["day"]))
        except CourseDoesNotFit as error:
            messages.error(request, "Nothing was moved: " + plain_message(error))
        except (ValidationError, PermissionError) as error:
            add_service_errors(form, error)
    today = location.local(timezone.now()).date()
    try:
        proposals = reschedule_proposals(appointment=appointment, today=today)
    except ValidationError as error:
        proposals = []
        messages.error(request, plain_message(error))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Move the session of {appointment.patient}",
        "appointment": appointment, "form": form, "proposals": proposals, "back": back,
        "when_text": location_time(location, appointment.starts_at),
        "zone_text": location_zone(location, appointment.starts_at),
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "scheduling/admin/appointment_reschedule.html", context)


def _version(request) -> int | None:
    value = request.POST.get("version", "")
    return int(value) if value.isdigit() else None
