"""Admin of appointments: the front desk's daily list, booking one session and its actions.

Every change calls a service; refusals come back as form errors or messages in the service's own
words. The day schedule, the day sheet and moving a session are pages of their own (desk/views.py).
"""

from __future__ import annotations

import operator
from datetime import date, datetime, time, timedelta
from functools import reduce

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from clinic.admin import AUDIT_FIELDS, LocationScopedAdmin, VisibleFilter, run_service
from clinic.display import location_time
from clinic.models import Location
from clinic.redirects import safe_next
from clinic.selectors import (
    clinicians_visible_to,
    devices_visible_to,
    rooms_visible_to,
)
from patients.admin import AuditedReadAdmin
from patients.selectors import patient_list
from scheduling.booking.selectors import (
    PENDING_STATUSES,
    appointment_arrival_refusal,
    appointment_next_proposal,
    appointment_noshow_refusal,
    appointments_visible_to,
    course_last_session_record,
    courses_visible_to,
)
from scheduling.booking.services import (
    appointment_book,
    appointment_cancel,
    appointment_mark_arrived,
    appointment_mark_noshow,
)
from scheduling.desk import views
from scheduling.desk.selectors import day_schedule_url, local_time
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    CancelledBy,
    NotificationStatus,
)
from scheduling.reminders.outbox import notification_resend
from scheduling.reports.period import local_days_instants

# ---------------------------------------------------------------------------------------------
# Appointments


class DayFilter(admin.SimpleListFilter):
    """By the session's day at its location: today, tomorrow, this week, next week, past, upcoming."""

    title = "date"
    parameter_name = "day"

    def lookups(self, request, model_admin):
        return [("today", "Today"), ("tomorrow", "Tomorrow"), ("week", "This week"), ("next_week", "Next week"),
                ("upcoming", "From today on"), ("past", "Before today")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        monday = today - timedelta(days=today.weekday())
        match self.value():
            case "today":
                return _on_local_days(queryset, today, today)
            case "tomorrow":
                return _on_local_days(queryset, today + timedelta(days=1), today + timedelta(days=1))
            case "week":
                return _on_local_days(queryset, monday, monday + timedelta(days=6))
            case "next_week":
                return _on_local_days(queryset, monday + timedelta(days=7), monday + timedelta(days=13))
            case "upcoming":
                return _from_local_day(queryset, today)
            case "past":
                return _on_local_days(queryset, None, today - timedelta(days=1))
        return queryset


def _on_local_days(queryset, first: date | None, last: date | None):
    """The sessions on the local days ``first`` to ``last`` (None: open), also bounded on ``starts_at``, so that the
    indexes on the start read those days only (the list's page, its date hierarchy's first and last session)."""
    earliest, latest = local_days_instants(first or last, last or first)
    if first is not None:
        queryset = queryset.filter(local_date__gte=first, starts_at__gte=earliest)
    if last is not None:
        queryset = queryset.filter(local_date__lte=last, starts_at__lt=latest)
    return queryset


def _from_local_day(queryset, first: date):
    """The sessions from the local day ``first`` on, bounded on ``starts_at`` alone: from that day's midnight at each
    location, in its zone (its days as its zone tells them now, as the list shows its times). Locations whose day
    starts at the same instant share a term; with one such instant no location is named.

    Not ``_on_local_days``: PostgreSQL takes its two bounds, on the local day and on the start, for independent and
    multiplies their shares. Here both leave the few weeks ahead of years of history, so it expected 2 of 4,229
    booked sessions and joined the list's small tables to them row by row (310 ms; 0.9 ms on the start alone,
    bench/README.md). Over days that have passed the shares are large and their product close enough."""
    midnights: dict[datetime, list[int]] = {}
    for location in Location.objects.only("time_zone"):
        midnights.setdefault(location.at(first, time()), []).append(location.pk)
    if len(midnights) <= 1:
        return queryset.filter(starts_at__gte=next(iter(midnights))) if midnights else queryset.none()
    return queryset.filter(reduce(operator.or_, (Q(location_id__in=ids, starts_at__gte=midnight)
                                                 for midnight, ids in midnights.items())))


class AppointmentActionForm(ActionForm):
    cancelled_by = forms.ChoiceField(choices=[("", "Who cancels?"), *CancelledBy.choices], required=False,
                                     label="Cancelled by")
    reason = forms.CharField(required=False, label="Reason", widget=forms.TextInput(attrs={"size": 30}))


class AppointmentBookForm(forms.ModelForm):
    """One session: the course, who and where, and the day and time at the course's location."""

    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    at = forms.TimeField(label="Time", widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
                         help_text="The location's local time.")

    class Meta:
        model = Appointment
        fields = ("course", "clinician", "room", "device")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "course" in self.fields:
            self.fields["course"].help_text = format_html(
                'Type the patient\'s name, email, phone or date of birth. New patient? <a href="{}">Register them</a>,'
                ' then <a href="{}">plan their course</a>.',
                reverse("admin:patients_patient_add"), reverse("admin:scheduling_course_add"))


def book_next_url(appointment: Appointment) -> str:
    """The booking form filled with the next session the course's cadence proposes (its day, time, clinician,
    room and device), or with this session's time and resources when nothing fits in the next two weeks."""
    proposal = appointment_next_proposal(appointment=appointment)
    location = appointment.location
    if proposal is not None:
        local = location.local(proposal.starts_at)
        chosen = {"day": local.date().isoformat(), "at": f"{local:%H:%M}", "clinician": proposal.clinician.pk,
                  "room": proposal.room.pk, "device": proposal.device.pk}
    else:
        chosen = {"clinician": appointment.clinician_id, "room": appointment.room_id,
                  "device": appointment.device_id, "at": f"{location.local(appointment.starts_at):%H:%M}"}
    return reverse("admin:scheduling_appointment_add") + "?" + urlencode(
        {"course": appointment.course_id, "location": appointment.location_id, **chosen})


def last_record_text(appointment: Appointment) -> str:
    """'Last session Mon 07 Dec 2026 10:00 GMT: Palms 12.5 mA, 18 minutes of current', or ''."""
    record = course_last_session_record(course_id=appointment.course_id)
    if record is None:
        return ""
    sites = ", ".join(f"{site.site_other or site.get_site_display()} {site.current_ma} mA"
                      for site in record.sites.all())
    return (f"Last session {location_time(record.appointment.location, record.appointment.starts_at)}: {sites}, "
            f"{record.minutes_of_current} minutes of current")


@admin.register(Appointment)
class AppointmentAdmin(AuditedReadAdmin, LocationScopedAdmin):
    rows_visible_to = staticmethod(appointments_visible_to)
    add_form = AppointmentBookForm
    list_display = ("when", "patient_name", "location", "clinician", "room_name", "device", "status_badge",
                    "confirmed")
    list_display_links = ("when", "patient_name")
    list_filter = (DayFilter, "status", ("location", VisibleFilter), ("clinician", VisibleFilter),
                   ("room", VisibleFilter), ("device", VisibleFilter))
    list_select_related = ("patient", "location", "clinician__user", "room", "device")
    search_fields = ("patient__last_name",)  # the search itself is patients.selectors.patient_list
    search_help_text = "Patient name, email, phone or date of birth (2001-04-23 or 23/04/2001)."
    date_hierarchy = "starts_at"
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice would grow with the table
    list_per_page = 50
    ordering = ("-starts_at",)
    autocomplete_fields = ("course",)
    action_form = AppointmentActionForm
    actions = ["mark_arrived", "mark_noshow", "cancel", "resend_reminder"]
    change_form_template = "scheduling/admin/appointment_change_form.html"
    readonly_fields = ("booked_by_name", "moved_by_patient", "version", "status_changed_at", "status_changed_by",
                       *AUDIT_FIELDS)

    # -- pages of their own

    def get_urls(self):
        def wrap(view):
            def wrapper(request, *args, **kwargs):
                return self._in_user_zone(request, lambda req: view(self, req, *args, **kwargs))
            return self.admin_site.admin_view(wrapper)

        return [
            path("calendar/", wrap(views.calendar_view), name="scheduling_appointment_calendar"),
            path("day/", wrap(views.day_schedule_view), name="scheduling_appointment_day"),
            path("day-sheet/", wrap(views.day_sheet_view), name="scheduling_appointment_day_sheet"),
            path("<int:appointment_id>/act/<str:action>/", self.admin_site.admin_view(self.act_view),
                 name="scheduling_appointment_act"),
            path("<int:appointment_id>/move/", wrap(views.appointment_reschedule_view),
                 name="scheduling_appointment_move"),
            *super().get_urls(),
        ]

    def act_view(self, request, appointment_id: int, action: str):
        """One button of the appointment page or the day sheet: arrived, no-show, cancel."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        appointment = self.get_object(request, str(appointment_id))
        if appointment is None:
            raise PermissionDenied
        page = reverse("admin:scheduling_appointment_change", args=[appointment.pk])
        back = safe_next(request, page)
        version = request.POST.get("version")
        expected = int(version) if version and version.isdigit() else None
        who = appointment.patient
        done = None
        if action == "arrived":
            done = run_service(request, lambda: appointment_mark_arrived(
                appointment=appointment, marked_by=request.user, expected_version=expected),
                success=f"{who} has arrived.")
        elif action == "noshow":
            done = run_service(request, lambda: appointment_mark_noshow(
                appointment=appointment, marked_by=request.user, expected_version=expected),
                success=f"{who} is marked as a no-show.")
        elif action == "cancel":
            done = run_service(request, lambda: appointment_cancel(
                appointment=appointment, recorded_by=request.user, by=request.POST.get("cancelled_by", ""),
                reason=request.POST.get("reason", ""), expected_version=expected),
                success=f"The session of {who} on {local_time(appointment)} is cancelled.")
        elif action == "resend":
            self._resend(request, appointment)
            done = True
        else:
            messages.error(request, f"There is no action called {action!r}.")
        if done is None and back != page:
            # A refusal keeps the user on the session's page, with the message and the way back.
            return HttpResponseRedirect(f"{page}?{urlencode({'next': back})}")
        return HttpResponseRedirect(back)

    def _resend(self, request, appointment):
        """Queue the appointment's failed emails again (the reminders' own service decides what may go)."""
        failed = list(appointment.notifications.filter(status=NotificationStatus.FAILED).values_list("pk", flat=True))
        if not failed:
            messages.warning(request, f"No email to {appointment.patient} about the session on "
                                      f"{local_time(appointment)} has failed; sent emails are never sent twice.")
            return
        count = run_service(request, lambda: notification_resend(notification_ids=failed, resent_by=request.user))
        if count:
            messages.success(request, f"{count} email{'s' if count != 1 else ''} to {appointment.patient} "
                                      f"{'are' if count != 1 else 'is'} queued to go again now.")

    # -- list

    @admin.display(description="when", ordering="starts_at")
    def when(self, appointment):
        return local_time(appointment)

    @admin.display(description="patient", ordering="patient__last_name")
    def patient_name(self, appointment):
        return f"{appointment.patient.last_name}, {appointment.patient.first_name}"

    @admin.display(description="state")
    def state(self, appointment):
        return appointment.display_state_label

    @admin.display(description="state", ordering="status")
    def status_badge(self, appointment):
        return format_html('<span class="ionto-state ionto-{}">{}</span>', appointment.display_state.value,
                           appointment.display_state_label)

    @admin.display(description="confirmed", boolean=True)
    def confirmed(self, appointment):
        return appointment.confirmed_at is not None

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(patient__in=patient_list(search=search_term, include_archived=True).values("pk")), False

    def get_queryset(self, request):
        # Everything a row, the page and its actions show, in the list's one query.
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="room", ordering="room__name")
    def room_name(self, appointment):
        return appointment.room.name

    # -- add (book one session) and the read-only page with its actions

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("course", "day", "at", "clinician", "room", "device")
        return ("patient", "course", "location", "when", "ends", "clinician", "room", "device", "state",
                "cancelled_by", "cancellation_reason", "confirmed_when", "confirmed_via", "booked_by_name",
                "moved_by_patient", "status_changed", "status_changed_by", "version", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return (*self.get_fields(request, obj), "ends") if obj is not None else AUDIT_FIELDS

    @admin.display(description="booked by")
    def booked_by_name(self, appointment):
        return appointment.booked_by.get_username() if appointment.booked_by_id else "the patient"

    @admin.display(description="moved by the patient")
    def moved_by_patient(self, appointment):
        if appointment.moved_by_patient_at is None:
            return "-"
        return location_time(appointment.location, appointment.moved_by_patient_at)

    @admin.display(description="confirmed at")
    def confirmed_when(self, appointment):
        if appointment.confirmed_at is None:
            return "-"
        return location_time(appointment.location, appointment.confirmed_at)

    @admin.display(description="status changed at")
    def status_changed(self, appointment):
        if appointment.status_changed_at is None:
            return "-"
        return location_time(appointment.location, appointment.status_changed_at)

    @admin.display(description="ends")
    def ends(self, appointment):
        return f"{location_time(appointment.location, appointment.ends_at, '%H:%M')} ({appointment.minutes} minutes)"

    def get_changeform_initial_data(self, request):
        """From a free cell of the day schedule: its day, time and column, and a clinician, room and
        device free together then (the slot engine's first suggestion) for what the column leaves open."""
        initial = super().get_changeform_initial_data(request)
        location_id = initial.pop("location", None)
        initial.pop("next", None)
        if location_id and initial.get("day") and initial.get("at"):
            suggestion = views.slot_at(request=request, location_id=location_id, day=initial["day"],
                                       at=initial["at"], chosen=initial)
            for name, value in suggestion.items():
                initial.setdefault(name, value)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        wanted = request.GET.get("location")
        here = int(wanted) if wanted and wanted.isdigit() else None
        if db_field.name == "clinician":
            rows = clinicians_visible_to(user=user).filter(is_active=True).select_related("user")
            kwargs["queryset"] = rows if here is None else rows.filter(locations=here)
        elif db_field.name == "room":
            rows = rooms_visible_to(user=user).filter(is_active=True).select_related("location")
            kwargs["queryset"] = rows if here is None else rows.filter(location=here)
        elif db_field.name == "device":
            rows = devices_visible_to(user=user).filter(in_service=True)
            kwargs["queryset"] = rows if here is None else rows.filter(location=here)
        elif db_field.name == "course":
            kwargs["queryset"] = courses_visible_to(user=user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def create_through_service(self, request, data):
        course = data["course"]
        return appointment_book(
            course=course, clinician=data["clinician"], room=data["room"], device=data["device"],
            starts_at=course.location.at_typed(data["day"], data["at"]), booked_by=request.user,
        )

    def response_add(self, request, obj, post_url_continue=None):
        target = safe_next(request, "")
        if target:
            messages.success(request, f"Booked: {obj.patient}, {local_time(obj)}.")
            return HttpResponseRedirect(target)
        return super().response_add(request, obj, post_url_continue)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        appointment = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
            "show_delete_link": False,
        }
        if appointment is not None:
            can_book_next = self.has_change_permission(request, appointment) and appointment.course.is_open
            can_record = (appointment.status == AppointmentStatus.ARRIVED
                          and appointment.starts_at <= timezone.now()  # the service records only begun sessions
                          and request.user.has_perm("scheduling.add_sessionrecord"))
            extra_context.update({
                "appointment": appointment,
                "when_text": local_time(appointment),
                "state": appointment.display_state.value,
                "state_label": appointment.display_state_label,
                "can_act": self.has_change_permission(request, appointment),
                "is_open": appointment.status in PENDING_STATUSES,
                "is_booked": appointment.status == AppointmentStatus.BOOKED,
                "can_mark_arrived": appointment_arrival_refusal(appointment=appointment, now=timezone.now()) is None,
                "can_mark_noshow": appointment_noshow_refusal(appointment=appointment, now=timezone.now()) is None,
                "cancel_choices": CancelledBy.choices,
                "back": safe_next(request, day_schedule_url(
                    location_id=appointment.location_id, day=appointment.local_date)),
                "move_url": reverse("admin:scheduling_appointment_move", args=[appointment.pk]),
                "book_next_url": book_next_url(appointment) if can_book_next else "",
                "book_course_url": reverse("admin:scheduling_course_book", args=[appointment.course_id]),
                "can_record": can_record,
                "record_url": reverse("admin:scheduling_sessionrecord_add") + "?" + urlencode(
                    {"appointment": appointment.pk}),
                "last_record": last_record_text(appointment) if can_record else "",
                "course_is_open": appointment.course.is_open,
            })
        return super().change_view(request, object_id, form_url, extra_context)

    # -- list actions

    def _each(self, request, queryset, call, success):
        for appointment in queryset.select_related("patient", "location"):
            run_service(request, lambda a=appointment: call(a), success=success(appointment))

    @admin.action(description="Mark arrived", permissions=["change"])
    def mark_arrived(self, request, queryset):
        self._each(request, queryset,
                   lambda a: appointment_mark_arrived(appointment=a, marked_by=request.user),
                   lambda a: f"{a.patient} has arrived.")

    @admin.action(description="Mark as no-show", permissions=["change"])
    def mark_noshow(self, request, queryset):
        self._each(request, queryset,
                   lambda a: appointment_mark_noshow(appointment=a, marked_by=request.user),
                   lambda a: f"{a.patient} is marked as a no-show.")

    @admin.action(description="Resend failed reminder emails", permissions=["change"])
    def resend_reminder(self, request, queryset):
        for appointment in queryset.select_related("patient", "location"):
            self._resend(request, appointment)

    @admin.action(description="Cancel (say who and why)", permissions=["change"])
    def cancel(self, request, queryset):
        by, reason = request.POST.get("cancelled_by", ""), request.POST.get("reason", "")
        self._each(request, queryset, lambda a: appointment_cancel(
            appointment=a, recorded_by=request.user, by=by, reason=reason),
            lambda a: f"The session of {a.patient} on {local_time(a)} is cancelled.")
