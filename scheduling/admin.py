"""Admin of courses, appointments and session records: the front desk's daily screen.

Every change calls scheduling.services; refusals come back as form errors or messages in the
service's own words. The day schedule, the day sheet, booking a course and moving a session are
pages of their own (scheduling/admin_views.py) reached from the appointment and course admins.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from clinic.admin import AUDIT_FIELDS, LocationScopedAdmin, ReadOnlyInline, run_service
from clinic.models import Device, Room, Staff
from clinic.selectors import (
    clinicians_visible_to,
    devices_visible_to,
    locations_visible_to,
    rooms_visible_to,
    staff_is_clinical,
)
from patients.admin import AuditedReadAdmin, PatientAdmin
from patients.models import Patient
from patients.selectors import patient_list, patients_visible_to
from scheduling import admin_views, services
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    BodySite,
    CancelledBy,
    Course,
    CourseStatus,
    NotificationStatus,
    SessionRecord,
    SessionSite,
    SideEffect,
    SideEffectKind,
)
from scheduling.notifications import notification_resend
from scheduling.selectors import (
    appointment_arrival_refusal,
    appointment_noshow_refusal,
    appointments_visible_to,
    course_annotate_left_to_book,
    courses_visible_to,
    session_records_visible_to,
)

OPEN_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)


def local_time(appointment: Appointment) -> str:
    """The session's start in its location's zone, with the zone's abbreviation (GMT, BST, CET...)."""
    return admin_views.local_time_at(appointment.location, appointment.starts_at)


def progress_text(course: Course) -> str:
    """'4 of 8 done, next Thu 14:00' from the annotations of course_list_with_progress."""
    text = f"{course.done_count} of {course.planned_sessions} done"
    if course.booked_count:
        text += f", {course.booked_count} booked"
    if course.next_starts_at is not None:
        text += f", next {course.location.local(course.next_starts_at):%a %d %b %H:%M}"
    if course.is_open and course.sessions_left_to_book > 0:
        text += f"; {course.sessions_left_to_book} to book"
    return text


def course_list_with_progress(queryset):
    """Courses with their counts and next session, in the same single query."""
    now = timezone.now()
    return course_annotate_left_to_book(courses=queryset.select_related("patient", "location")).annotate(
        done_count=Count("appointments", filter=Q(appointments__status=AppointmentStatus.FULFILLED)),
        booked_count=Count("appointments", filter=Q(appointments__status__in=OPEN_STATUSES)),
        next_starts_at=Min("appointments__starts_at",
                           filter=Q(appointments__status__in=OPEN_STATUSES, appointments__starts_at__gte=now)),
    )


# ---------------------------------------------------------------------------------------------
# Patients: the page gains the courses and upcoming sessions (patients does not import scheduling)


class CourseInline(ReadOnlyInline):
    model = Course
    fields = ("course_link", "status", "progress", "progress_link", "book_link", "created_at")
    verbose_name_plural = "courses"

    def get_queryset(self, request):
        """Only the courses at the user's locations: a patient may have courses elsewhere too."""
        return course_list_with_progress(courses_visible_to(user=request.user))

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="course")
    def course_link(self, course):
        url = reverse("admin:scheduling_course_change", args=[course.pk])
        return format_html('<a href="{}">{}, {}</a>', url, course.get_indication_display(),
                           course.get_phase_display().lower())

    @admin.display(description="progress")
    def progress(self, course):
        return progress_text(course)

    @admin.display(description="")
    def progress_link(self, course):
        return format_html('<a href="{}">Progress and chart</a>', reverse("progress:course", args=[course.pk]))

    @admin.display(description="")
    def book_link(self, course):
        if not course.is_open:
            return ""
        return format_html('<a href="{}" class="button" style="white-space:nowrap">Book sessions</a>',
                           reverse("admin:scheduling_course_book", args=[course.pk]))


admin.site.unregister(Patient)


@admin.register(Patient)
class PatientWithCoursesAdmin(PatientAdmin):
    inlines = [CourseInline]
    readonly_fields = (*PatientAdmin.readonly_fields, "upcoming_sessions")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_object(self, request, object_id, from_field=None):
        patient = super().get_object(request, object_id, from_field)
        if patient is not None:
            # Only the sessions at the user's locations: a patient may have courses elsewhere too.
            patient.visible_sessions = appointments_visible_to(user=request.user).filter(patient=patient)
        return patient

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "preferred_location" not in initial:
            first = locations_visible_to(user=request.user).order_by("name").first()
            if first is not None:
                initial["preferred_location"] = first.pk
        return initial

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            fieldsets.insert(2, ("Upcoming sessions", {"fields": ("upcoming_sessions",)}))
        return fieldsets

    @admin.display(description="upcoming")
    def upcoming_sessions(self, patient):
        upcoming = (patient.visible_sessions.filter(status__in=OPEN_STATUSES, ends_at__gte=timezone.now())
                    .select_related("location", "clinician__user", "room").order_by("starts_at")[:20])
        if not upcoming:
            return "No session booked."
        rows = format_html_join(
            "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            ((reverse("admin:scheduling_appointment_change", args=[a.pk]), local_time(a), a.location.name,
              a.room.name, a.clinician, a.get_status_display()) for a in upcoming),
        )
        return format_html('<table class="ionto-upcoming"><tr><th>When</th><th>Where</th><th>Room</th>'
                           "<th>Clinician</th><th>Status</th></tr>{}</table>", rows)


# ---------------------------------------------------------------------------------------------
# Courses


class CourseForm(forms.ModelForm):
    body_sites = forms.MultipleChoiceField(choices=BodySite.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Course
        fields = ("patient", "location", "indication", "body_sites", "body_site_other", "medication",
                  "planned_sessions", "session_minutes", "sessions_per_week")


class CourseActionForm(ActionForm):
    reason = forms.CharField(required=False, label="Reason (to discontinue)",
                             widget=forms.TextInput(attrs={"size": 40}))


class CourseStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open (planned or active)"), *CourseStatus.choices]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(status__in=(CourseStatus.PLANNED, CourseStatus.ACTIVE))
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


@admin.register(Course)
class CourseAdmin(AuditedReadAdmin, LocationScopedAdmin):
    rows_visible_to = staticmethod(courses_visible_to)
    list_display = ("patient", "location", "indication", "phase", "status", "progress", "created_at")
    list_filter = (CourseStatusFilter, "location", "indication", "phase")
    list_select_related = ("patient", "location")
    search_fields = ("patient__last_name", "patient__first_name", "patient__email")
    autocomplete_fields = ("patient",)
    action_form = CourseActionForm
    actions = ["complete", "discontinue", "start_maintenance"]
    change_form_template = "scheduling/admin/course_change_form.html"

    def get_queryset(self, request):
        return course_list_with_progress(super().get_queryset(request))

    def get_urls(self):
        def book(request, course_id):
            return self._in_user_zone(request, lambda req: admin_views.course_book_view(self, req, course_id))

        return [path("<int:course_id>/book/", self.admin_site.admin_view(book), name="scheduling_course_book"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False}
        if object_id.isdigit():
            extra_context["book_url"] = reverse("admin:scheduling_course_book", args=[int(object_id)])
            extra_context["progress_url"] = reverse("progress:course", args=[int(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(request, f"The course of {obj.patient} is planned; choose when the sessions go.")
        return HttpResponseRedirect(reverse("admin:scheduling_course_book", args=[obj.pk]))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CourseForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return CourseForm.Meta.fields
        return ("patient", "location", "indication", "body_sites", "body_site_other", "medication", "phase",
                "follows", "planned_sessions", "session_minutes", "sessions_per_week", "maintenance_interval_weeks",
                "status", "progress", "sessions", "discontinued_reason", "ended_at", "created_by", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else AUDIT_FIELDS

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "location":
            kwargs["queryset"] = locations_visible_to(user=request.user)
        elif db_field.name == "patient":
            kwargs["queryset"] = patients_visible_to(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        if request.GET.get("model_name") == "appointment" and request.GET.get("field_name") == "course":
            # Booking one session: only courses that can still take one.
            queryset = queryset.filter(status__in=(CourseStatus.PLANNED, CourseStatus.ACTIVE),
                                       patient__archived_at__isnull=True)
        if not search_term.strip():
            return queryset, False
        patients = patient_list(search=search_term).values("pk")
        return queryset.filter(patient__in=patients), False

    @admin.display(description="progress")
    def progress(self, course):
        return progress_text(course)

    @admin.display(description="sessions")
    def sessions(self, course):
        appointments = course.appointments.select_related("location", "room", "clinician__user").order_by(
            "starts_at")
        if not appointments:
            return "None booked yet."
        return format_html_join(
            "", '<div><a href="{}">{}</a> · {} · {} · {}</div>',
            ((reverse("admin:scheduling_appointment_change", args=[a.pk]), local_time(a), a.room.name,
              a.clinician, a.get_status_display()) for a in appointments),
        )

    def create_through_service(self, request, data):
        return services.course_create(
            patient=data["patient"], location=data["location"], indication=data["indication"],
            body_sites=list(data["body_sites"]), planned_sessions=data["planned_sessions"], created_by=request.user,
            session_minutes=data["session_minutes"], sessions_per_week=data["sessions_per_week"],
            medication=data.get("medication", ""), body_site_other=data.get("body_site_other", ""),
        )

    def has_clinical_permission(self, request) -> bool:
        """Ending or extending a course is offered to whom the services let do it: clinicians and managers."""
        return self.has_change_permission(request) and staff_is_clinical(request.user)

    @admin.action(description="Complete the selected courses", permissions=["clinical"])
    def complete(self, request, queryset):
        for course in queryset:
            run_service(request, lambda c=course: services.course_complete(course=c, completed_by=request.user),
                        success=f"{course} is completed.")

    @admin.action(description="Discontinue the selected courses (give the reason)", permissions=["clinical"])
    def discontinue(self, request, queryset):
        reason = request.POST.get("reason", "")
        for course in queryset:
            run_service(request, lambda c=course: services.course_discontinue(
                course=c, discontinued_by=request.user, reason=reason),
                success=f"{course} is discontinued; its booked sessions are cancelled.")

    @admin.action(description="Plan maintenance after the selected completed courses", permissions=["clinical"])
    def start_maintenance(self, request, queryset):
        for course in queryset:
            run_service(request, lambda c=course: services.course_start_maintenance(
                course=c, created_by=request.user), success=f"Maintenance is planned after {course}.")


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
                return queryset.filter(local_date=today)
            case "tomorrow":
                return queryset.filter(local_date=today + timedelta(days=1))
            case "week":
                return queryset.filter(local_date__gte=monday, local_date__lt=monday + timedelta(days=7))
            case "next_week":
                return queryset.filter(local_date__gte=monday + timedelta(days=7),
                                       local_date__lt=monday + timedelta(days=14))
            case "upcoming":
                return queryset.filter(local_date__gte=today)
            case "past":
                return queryset.filter(local_date__lt=today)
        return queryset


class ResourceFilter(admin.RelatedFieldListFilter):
    """Only the rooms, devices or clinicians of the user's locations."""

    def field_choices(self, field, request, model_admin):
        if field.related_model is Staff:
            items = clinicians_visible_to(user=request.user).select_related("user")
        else:
            visible_to = {Room: rooms_visible_to, Device: devices_visible_to}[field.related_model]
            items = visible_to(user=request.user).select_related("location")
        return [(item.pk, str(item)) for item in items]


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


@admin.register(Appointment)
class AppointmentAdmin(AuditedReadAdmin, LocationScopedAdmin):
    rows_visible_to = staticmethod(appointments_visible_to)
    list_display = ("when", "patient_name", "location", "clinician", "room_name", "device", "status_badge",
                    "confirmed")
    list_display_links = ("when", "patient_name")
    list_filter = (DayFilter, "status", "location", ("clinician", ResourceFilter), ("room", ResourceFilter),
                   ("device", ResourceFilter))
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
    readonly_fields = ("booked_by", "version", "status_changed_at", "status_changed_by", *AUDIT_FIELDS)

    # -- pages of their own

    def get_urls(self):
        def wrap(view):
            def wrapper(request, *args, **kwargs):
                return self._in_user_zone(request, lambda req: view(self, req, *args, **kwargs))
            return self.admin_site.admin_view(wrapper)

        return [
            path("day/", wrap(admin_views.day_schedule_view), name="scheduling_appointment_day"),
            path("day-sheet/", wrap(admin_views.day_sheet_view), name="scheduling_appointment_day_sheet"),
            path("<int:appointment_id>/act/<str:action>/", self.admin_site.admin_view(self.act_view),
                 name="scheduling_appointment_act"),
            path("<int:appointment_id>/move/", wrap(admin_views.appointment_reschedule_view),
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
        fallback = reverse("admin:scheduling_appointment_change", args=[appointment.pk])
        version = request.POST.get("version")
        expected = int(version) if version and version.isdigit() else None
        who = appointment.patient
        if action == "arrived":
            run_service(request, lambda: services.appointment_mark_arrived(
                appointment=appointment, marked_by=request.user, expected_version=expected),
                success=f"{who} has arrived.")
        elif action == "noshow":
            run_service(request, lambda: services.appointment_mark_noshow(
                appointment=appointment, marked_by=request.user, expected_version=expected),
                success=f"{who} is marked as a no-show.")
        elif action == "cancel":
            run_service(request, lambda: services.appointment_cancel(
                appointment=appointment, cancelled_by=request.user, by=request.POST.get("cancelled_by", ""),
                reason=request.POST.get("reason", ""), expected_version=expected),
                success=f"The session of {who} on {local_time(appointment)} is cancelled.")
        elif action == "resend":
            self._resend(request, appointment)
        else:
            messages.error(request, f"There is no action called {action!r}.")
        return HttpResponseRedirect(admin_views.safe_next(request, fallback))

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

    @admin.display(description="status", ordering="status")
    def status_badge(self, appointment):
        state = admin_views.card_state(appointment)
        return format_html('<span class="ionto-state ionto-{}">{}</span>', state, dict(admin_views.CARD_STATES)[state])

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

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AppointmentBookForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("course", "day", "at", "clinician", "room", "device")
        return ("patient", "course", "location", "when", "ends", "clinician", "room", "device", "status",
                "cancelled_by", "cancellation_reason", "confirmed_at", "confirmed_via", "booked_by",
                "status_changed_at", "status_changed_by", "version", *AUDIT_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return (*self.get_fields(request, obj), "ends") if obj is not None else AUDIT_FIELDS

    @admin.display(description="ends")
    def ends(self, appointment):
        return f"{appointment.location.local(appointment.ends_at):%H:%M} ({appointment.minutes} minutes)"

    def get_changeform_initial_data(self, request):
        """From a free cell of the day schedule: its day, time and column, and a clinician, room and
        device free together then (the slot engine's first suggestion) for what the column leaves open."""
        initial = super().get_changeform_initial_data(request)
        location_id = initial.pop("location", None)
        initial.pop("next", None)
        if location_id and initial.get("day") and initial.get("at"):
            suggestion = admin_views.slot_at(request=request, location_id=location_id, day=initial["day"],
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
        return services.appointment_book(
            course=course, clinician=data["clinician"], room=data["room"], device=data["device"],
            starts_at=course.location.at_typed(data["day"], data["at"]), booked_by=request.user,
        )

    def response_add(self, request, obj, post_url_continue=None):
        target = admin_views.safe_next(request, "")
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
            extra_context.update({
                "appointment": appointment,
                "when_text": local_time(appointment),
                "state": admin_views.card_state(appointment),
                "state_label": dict(admin_views.CARD_STATES)[admin_views.card_state(appointment)],
                "can_act": self.has_change_permission(request, appointment),
                "is_open": appointment.status in OPEN_STATUSES,
                "is_booked": appointment.status == AppointmentStatus.BOOKED,
                "can_mark_arrived": appointment_arrival_refusal(appointment=appointment, now=timezone.now()) is None,
                "can_mark_noshow": appointment_noshow_refusal(appointment=appointment, now=timezone.now()) is None,
                "cancel_choices": CancelledBy.choices,
                "back": admin_views.safe_next(request, admin_views.day_schedule_url(
                    location_id=appointment.location_id, day=appointment.local_date)),
                "move_url": reverse("admin:scheduling_appointment_move", args=[appointment.pk]),
                "book_next_url": reverse("admin:scheduling_appointment_add") + "?" + urlencode({
                    "course": appointment.course_id, "location": appointment.location_id,
                    "clinician": appointment.clinician_id, "room": appointment.room_id,
                    "device": appointment.device_id,
                    "at": f"{appointment.location.local(appointment.starts_at):%H:%M}"}),
                "book_course_url": reverse("admin:scheduling_course_book", args=[appointment.course_id]),
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
                   lambda a: services.appointment_mark_arrived(appointment=a, marked_by=request.user),
                   lambda a: f"{a.patient} has arrived.")

    @admin.action(description="Mark as no-show", permissions=["change"])
    def mark_noshow(self, request, queryset):
        self._each(request, queryset,
                   lambda a: services.appointment_mark_noshow(appointment=a, marked_by=request.user),
                   lambda a: f"{a.patient} is marked as a no-show.")

    @admin.action(description="Resend failed reminder emails", permissions=["change"])
    def resend_reminder(self, request, queryset):
        for appointment in queryset.select_related("patient", "location"):
            self._resend(request, appointment)

    @admin.action(description="Cancel (say who and why)", permissions=["change"])
    def cancel(self, request, queryset):
        by, reason = request.POST.get("cancelled_by", ""), request.POST.get("reason", "")
        self._each(request, queryset, lambda a: services.appointment_cancel(
            appointment=a, cancelled_by=request.user, by=by, reason=reason),
            lambda a: f"The session of {a.patient} on {local_time(a)} is cancelled.")


# ---------------------------------------------------------------------------------------------
# Session records: clinicians and managers only (the front desk has no permission on them)


class SessionRecordForm(forms.ModelForm):
    """A session as the clinician records it; the service checks the currents, dose and scores."""

    palms_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Palms (mA)")
    soles_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Soles (mA)")
    axillae_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Axillae (mA)")
    other_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Other site (mA)")
    other_site = forms.CharField(required=False, max_length=120, label="Other site: where")
    side_effect = forms.ChoiceField(required=False, choices=[("", "None"), *SideEffectKind.choices])
    side_effect_other = forms.CharField(required=False, max_length=120, label="Side effect: what (if other)")
    side_effect_grade = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                               choices=[("", "-"), (1, "1"), (2, "2"), (3, "3")])

    class Meta:
        model = SessionRecord
        fields = ("appointment", "minutes_of_current", "waveform", "polarity_reversed", "medium", "dose_ma_min",
                  "hdss", "pain_nprs", "sweat_mg_min", "sweat_site", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["medium"].required = False


class SiteInline(ReadOnlyInline):
    model = SessionSite
    fields = ("site", "site_other", "current_ma")


class SideEffectInline(ReadOnlyInline):
    model = SideEffect
    fields = ("kind", "kind_other", "grade")


@admin.register(SessionRecord)
class SessionRecordAdmin(AuditedReadAdmin, LocationScopedAdmin):
    rows_visible_to = staticmethod(session_records_visible_to)
    list_display = ("patient", "session_day", "minutes_of_current", "hdss", "pain_nprs", "recorded_by")
    list_select_related = ("appointment__patient", "appointment__location", "recorded_by")
    search_fields = ("appointment__patient__last_name", "appointment__patient__first_name")
    date_hierarchy = "created_at"
    inlines = [SiteInline, SideEffectInline]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SessionRecordForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "appointment":
            kwargs["queryset"] = appointments_visible_to(user=request.user).filter(
                status__in=OPEN_STATUSES, starts_at__lte=timezone.now()).select_related("patient", "location")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("appointment", "minutes_of_current", "waveform", "polarity_reversed", "medium", "palms_ma",
                    "soles_ma", "axillae_ma", "other_ma", "other_site", "dose_ma_min", "hdss", "pain_nprs",
                    "sweat_mg_min", "sweat_site", "side_effect", "side_effect_other", "side_effect_grade", "note")
        return [f.name for f in SessionRecord._meta.fields if f.name != "id"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else AUDIT_FIELDS

    @admin.display(description="patient", ordering="appointment__patient__last_name")
    def patient(self, record):
        return record.appointment.patient

    @admin.display(description="session", ordering="appointment__starts_at")
    def session_day(self, record):
        return local_time(record.appointment)

    def create_through_service(self, request, data):
        sites = [{"site": site, "current_ma": data[f"{site}_ma"],
                  "site_other": data.get("other_site", "") if site == BodySite.OTHER else ""}
                 for site in ("palms", "soles", "axillae", "other") if data.get(f"{site}_ma") is not None]
        effects = []
        if data.get("side_effect"):
            effects.append({"kind": data["side_effect"], "grade": data.get("side_effect_grade") or 1,
                            "kind_other": data.get("side_effect_other", "")})
        return services.session_record(
            appointment=data["appointment"], recorded_by=request.user, minutes_of_current=data["minutes_of_current"],
            sites=sites, waveform=data["waveform"], polarity_reversed=data["polarity_reversed"],
            medium=data.get("medium") or None, hdss=data.get("hdss"), pain_nprs=data.get("pain_nprs"),
            sweat_mg_min=data.get("sweat_mg_min"), sweat_site=data.get("sweat_site", ""), side_effects=effects,
            dose_ma_min=data.get("dose_ma_min"), note=data.get("note", ""),
        )


# The notification outbox has an admin of its own (read-only, with the resend action).
from scheduling import admin_notifications  # noqa: E402, F401
