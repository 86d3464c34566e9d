"""The front desk's pages inside the admin: the day schedule, the day sheet, booking a course and
moving a session. Reads are built here in a fixed number of queries; every write calls a service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from clinic.admin import add_service_errors, plain_message
from clinic.models import Device, Location, Room, Staff, StaffRole, Weekday
from clinic.redirects import safe_next
from clinic.selectors import closure_list_overlapping, locations_visible_to
from patients.admin import CHILD_BADGE_AGE
from patients.models import Screening
from scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus
from scheduling.selectors import appointment_arrival_refusal, slot_list_available
from scheduling.services import CourseDoesNotFit, appointment_reschedule, course_book, course_reschedule_from

GROUPINGS = {"room": "Rooms", "clinician": "Clinicians", "device": "Devices"}

# The states a card can show, in the legend's order: (css class, label).
CARD_STATES = [
    ("booked", "Booked"),
    ("confirmed", "Confirmed by the patient"),
    ("arrived", "Arrived"),
    ("fulfilled", "Done"),
    ("noshow", "No-show"),
    ("cancelled", "Cancelled"),
]


SHORT_LABELS = {"confirmed": "Confirmed"}


def card_state(appointment: Appointment) -> str:
    if appointment.status == AppointmentStatus.BOOKED and appointment.confirmed_at is not None:
        return "confirmed"
    if appointment.status == AppointmentStatus.ENTERED_IN_ERROR:
        return "cancelled"
    return appointment.status


def local_time_at(location: Location, moment: datetime) -> str:
    """A stored time as the staff read it: the location's wall clock and zone, 'Wed 02 Dec 2026 10:00 GMT'."""
    local = location.local(moment)
    return f"{local:%a %d %b %Y %H:%M} {local:%Z}"


def day_schedule_url(*, location_id: int, day: date, by: str = "room") -> str:
    return reverse("admin:scheduling_appointment_day") + "?" + urlencode(
        {"location": location_id, "date": day.isoformat(), "by": by})


# ---------------------------------------------------------------------------------------------
# Reads


def appointment_list_for_day(*, location: Location, day: date):
    """One query: the day's appointments with everything a card shows.

    ``session_number`` counts the course's active sessions up to this one; ``medical_alert`` is the
    override time of the patient's current screening (an override means a contraindication a
    clinician decided to treat despite).
    """
    earlier_sessions = (
        Appointment.objects.filter(course=OuterRef("course"), status__in=ACTIVE_STATUSES,
                                   starts_at__lte=OuterRef("starts_at"))
        .order_by().values("course").annotate(n=Count("pk")).values("n")
    )
    current_screening = Screening.objects.filter(patient=OuterRef("patient")).order_by("-recorded_at", "-id")
    return (
        Appointment.objects.filter(location=location, local_date=day)
        .select_related("patient", "course", "location", "clinician__user", "room", "device")
        .annotate(
            session_number=Subquery(earlier_sessions, output_field=IntegerField()),
            medical_alert=Subquery(current_screening.values("overridden_at")[:1]),
        )
        .order_by("starts_at", "id")
    )


@dataclass
class Column:
    key: int
    label: str
    note: str = ""


@dataclass
class Cell:
    column: Column
    closed: bool
    reason: str = ""
    book_url: str = ""


@dataclass
class Row:
    index: int
    starts: datetime
    label: str
    is_hour: bool
    closed: bool
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Card:
    appointment: Appointment
    state: str
    state_label: str
    column_index: int
    row_start: int
    row_span: int
    time_text: str
    badges: list[tuple[str, str]]

    @property
    def short_label(self) -> str:
        return SHORT_LABELS.get(self.state, self.state_label)


@dataclass
class DaySchedule:
    location: Location
    day: date
    by: str
    columns: list[Column]
    rows: list[Row]
    cards: list[Card]
    appointments: list[Appointment]
    zone_text: str
    opening_text: str
    closures: list[str]


def _columns(location: Location, by: str) -> list[Column]:
    if by == "clinician":
        people = Staff.objects.filter(role=StaffRole.CLINICIAN, locations=location, is_active=True).select_related(
            "user").order_by("user__last_name", "user__first_name")
        return [Column(person.pk, str(person)) for person in people]
    if by == "device":
        return [Column(device.pk, str(device), "" if device.in_service else "out of service")
                for device in Device.objects.filter(location=location)]
    return [Column(room.pk, room.name, "" if room.is_active else "not in use")
            for room in Room.objects.filter(location=location)]


def _resource_id(appointment: Appointment, by: str) -> int:
    return {"room": appointment.room_id, "clinician": appointment.clinician_id, "device": appointment.device_id}[by]


def day_schedule_build(*, location: Location, day: date, by: str) -> DaySchedule:
    """The grid of one location's day: a fixed number of queries whatever the number of sessions."""
    zone = location.zone
    slot = timedelta(minutes=location.slot_minutes)
    opening = list(location.opening_hours.filter(weekday=day.weekday()).order_by("opens_at"))
    columns = _columns(location, by)
    day_start, day_end = location.at(day, time(0)), location.at(day + timedelta(days=1), time(0))
    closures = list(closure_list_overlapping(location=location, starts_at=day_start, ends_at=day_end))
    appointments = list(appointment_list_for_day(location=location, day=day))

    first = min([hours.opens_at for hours in opening], default=time(8))
    last = max([hours.closes_at for hours in opening], default=time(18))
    # Rows step in real time (UTC), so a day with a daylight-saving change still lines up; labels are local.
    grid_start = location.at(day, time(first.hour)).astimezone(UTC)
    grid_end = location.at(day, last).astimezone(UTC)
    if appointments:
        earliest_hour = location.at(day, time(location.local(appointments[0].starts_at).hour)).astimezone(UTC)
        grid_start = min(grid_start, earliest_hour)
        grid_end = max(grid_end, max(a.ends_at for a in appointments))
    count = max(1, math.ceil((grid_end - grid_start) / slot))

    rows: list[Row] = []
    index_of_column = {column.key: i for i, column in enumerate(columns)}
    for i in range(count):
        starts = grid_start + slot * i
        ends = starts + slot
        local = starts.astimezone(zone)
        is_open = any(hours.opens_at <= local.time() and (ends.astimezone(zone).time() <= hours.closes_at
                                                          or hours.closes_at == time(23, 59))
                      for hours in opening)
        row = Row(index=i, starts=starts, label=f"{local:%H:%M}", is_hour=local.minute == 0, closed=not is_open)
        for column in columns:
            reason = "" if is_open else "closed"
            for closure in closures:
                if closure.starts_at < ends and closure.ends_at > starts and (
                        _closure_column(closure, by) in (None, column.key)):
                    reason = closure.reason
            if not reason and column.note:
                reason = column.note
            cell = Cell(column=column, closed=bool(reason), reason=reason)
            if not reason and starts >= timezone.now():
                cell.book_url = reverse("admin:scheduling_appointment_add") + "?" + urlencode({
                    "location": location.pk, "day": day.isoformat(), "at": f"{local:%H:%M}", by: column.key,
                    "next": day_schedule_url(location_id=location.pk, day=day, by=by),
                })
            row.cells.append(cell)
        rows.append(row)

    today = location.local(timezone.now()).date()
    cards = []
    for appointment in appointments:
        column_index = index_of_column.get(_resource_id(appointment, by))
        if column_index is None:
            continue
        start_row = int((appointment.starts_at - grid_start) / slot)
        span = max(1, math.ceil((appointment.ends_at - appointment.starts_at) / slot))
        state = card_state(appointment)
        start, end = location.local(appointment.starts_at), location.local(appointment.ends_at)
        cards.append(Card(
            appointment=appointment, state=state, state_label=dict(CARD_STATES)[state],
            column_index=column_index, row_start=start_row, row_span=span,
            time_text=f"{start:%H:%M}-{end:%H:%M}", badges=_badges(appointment, today),
        ))
    zone_abbreviation = location.at(day, first).strftime("%Z")
    opening_text = ", ".join(f"{h.opens_at:%H:%M}-{h.closes_at:%H:%M}" for h in opening) or "closed all day"
    closure_texts = [f"{closure.room or closure.device or closure.clinician or 'Whole location'}: "
                     f"{location.local(closure.starts_at):%d %b %H:%M}-{location.local(closure.ends_at):%d %b %H:%M} "
                     f"({closure.reason})" for closure in closures]
    return DaySchedule(location=location, day=day, by=by, columns=columns, rows=rows, cards=cards,
                       appointments=appointments, zone_text=f"{location.time_zone} ({zone_abbreviation})",
                       opening_text=opening_text, closures=closure_texts)


def _closure_column(closure, by: str):
    """The column a closure shades: None for the whole location; a key, or -1 for another grouping."""
    if closure.room_id is None and closure.device_id is None and closure.clinician_id is None:
        return None
    key = {"room": closure.room_id, "device": closure.device_id, "clinician": closure.clinician_id}[by]
    return key if key is not None else -1


def _badges(appointment: Appointment, today: date) -> list[tuple[str, str]]:
    badges = []
    number = appointment.session_number
    if appointment.status in ACTIVE_STATUSES and number:
        if number == 1:
            badges.append(("first", "1st session"))
        badges.append(("session", f"session {number} of {appointment.course.planned_sessions}"))
    if appointment.medical_alert is not None:
        badges.append(("alert", "medical alert"))
    if appointment.patient.age_on(today) < CHILD_BADGE_AGE:
        badges.append(("child", f"under {CHILD_BADGE_AGE}"))
    return badges


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


def day_schedule_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    location = _chosen_location(request)
    day = _chosen_day(request, location)
    by = request.GET.get("by", "room")
    if by not in GROUPINGS:
        by = "room"
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


def day_sheet_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    location = _chosen_location(request)
    day = _chosen_day(request, location)
    appointments = [a for a in appointment_list_for_day(location=location, day=day)
                    if a.status != AppointmentStatus.ENTERED_IN_ERROR]
    now = timezone.now()
    today = location.local(now).date()
    rows = [{"appointment": a, "state": card_state(a), "state_label": dict(CARD_STATES)[card_state(a)],
             "start": location.local(a.starts_at), "end": location.local(a.ends_at), "badges": _badges(a, today),
             "can_mark_arrived": appointment_arrival_refusal(appointment=a, now=now) is None}
            for a in appointments]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Day sheet: {location.name}, {day:%A %d %B %Y}",
        "location": location, "day": day, "rows": rows,
        "zone_text": f"{location.time_zone} ({location.at(day, time(12)).strftime('%Z')})",
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
        start, end = location.local(session.starts_at), location.local(session.ends_at)
        rows.append({"number": session.number, "day": f"{start:%a %d %b %Y}", "time": f"{start:%H:%M}-{end:%H:%M}",
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
                                      f"{location.local(first.starts_at):%a %d %b %Y %H:%M}. The patient gets one "
                                      "confirmation email for the whole course.")
            return HttpResponseRedirect(day_schedule_url(location_id=location.pk,
                                                         day=location.local(first.starts_at).date()))
        if plan is not None:
            rows = _plan_rows(plan, location)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Book the course of {course.patient}",
        "course": course, "form": form, "plan": plan, "rows": rows, "confirmed": confirmed,
        "zone_text": f"{location.time_zone} ({location.local(timezone.now()):%Z})",
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
            proposals.append({"day": day, "at": f"{local:%H:%M}", "label": f"{local:%a %d %b %H:%M}",
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
                                          f"{location.local(starts_at):%a %d %b %H:%M}; {moved - 1} later "
                                          f"session{'s' if moved != 2 else ''} re-planned to keep the rhythm.")
            else:
                appointment_reschedule(appointment=appointment, starts_at=starts_at, rescheduled_by=request.user,
                                       expected_version=_version(request), **resources)
                messages.success(request, f"Moved the session of {appointment.patient} to "
                                          f"{location.local(starts_at):%a %d %b %Y %H:%M}.")
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
        "when_text": local_time_at(location, appointment.starts_at), "zone_text": location.time_zone,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "scheduling/admin/appointment_reschedule.html", context)


def _version(request) -> int | None:
    value = request.POST.get("version", "")
    return int(value) if value.isdigit() else None
