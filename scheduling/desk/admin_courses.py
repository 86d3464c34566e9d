"""Admin of courses, and the patient page with its courses and upcoming sessions.

Every change calls a service; booking a whole course is a page of its own (desk/views.py).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from clinic.admin import AUDIT_FIELDS, LocationScopedAdmin, ReadOnlyInline, VisibleFilter, run_service
from clinic.display import location_time
from clinic.selectors import (
    locations_visible_to,
    staff_is_clinical,
)
from patients.admin import AuditedReadAdmin, PatientAdmin
from patients.models import Patient
from patients.selectors import patient_list, patients_visible_to
from scheduling.booking.courses import course_complete, course_create, course_discontinue, course_start_maintenance
from scheduling.booking.selectors import (
    PENDING_STATUSES,
    appointments_visible_to,
    course_list_with_progress,
    courses_visible_to,
)
from scheduling.desk import views
from scheduling.desk.selectors import local_time
from scheduling.models import (
    BodySite,
    Course,
    CourseStatus,
)


def progress_text(course: Course) -> str:
    """'4 of 8 done, next Thu 14:00' from the annotations of course_list_with_progress."""
    text = f"{course.done_count} of {course.planned_sessions} done"
    if course.booked_count:
        text += f", {course.booked_count} booked"
    if course.next_starts_at is not None:
        text += f", next {location_time(course.location, course.next_starts_at, '%a %d %b %H:%M')}"
    if course.is_open and course.sessions_left_to_book > 0:
        text += f"; {course.sessions_left_to_book} to book"
    return text


# ---------------------------------------------------------------------------------------------
# Patients: the page gains the courses and upcoming sessions (patients does not import scheduling)


class CourseInline(ReadOnlyInline):
    model = Course
    fields = ("course_link", "status", "progress", "progress_link", "book_link", "created_at")
    verbose_name_plural = "courses"

    def get_queryset(self, request):
        """Only the courses at the user's locations: a patient may have courses elsewhere too."""
        return course_list_with_progress(courses=courses_visible_to(user=request.user))

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
    readonly_fields = (*PatientAdmin.readonly_fields, "upcoming_sessions", "plan_a_course")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_object(self, request, object_id, from_field=None):
        patient = super().get_object(request, object_id, from_field)
        if patient is not None:
            # Only the sessions at the user's locations: a patient may have courses elsewhere too.
            patient.visible_sessions = appointments_visible_to(user=request.user).filter(patient=patient)
            # "Plan a course" starts at the patient's preferred location when the user works there, else at
            # the user's first location.
            mine = locations_visible_to(user=request.user)
            patient.plan_location_id = (patient.preferred_location_id
                                        if mine.filter(pk=patient.preferred_location_id).exists()
                                        else mine.order_by("name").values_list("pk", flat=True).first())
            patient.can_plan = request.user.has_perm("scheduling.add_course") and not patient.is_archived
        return patient

    @admin.display(description="new course")
    def plan_a_course(self, patient):
        if not getattr(patient, "can_plan", False):
            return "—"
        query = {"patient": patient.pk}
        if patient.plan_location_id is not None:
            query["location"] = patient.plan_location_id
        return format_html('<a class="button" id="plan-a-course" href="{}?{}">Plan a course</a>',
                           reverse("admin:scheduling_course_add"), urlencode(query))

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
            fieldsets.insert(2, ("Upcoming sessions", {"fields": ("plan_a_course", "upcoming_sessions")}))
        return fieldsets

    @admin.display(description="upcoming")
    def upcoming_sessions(self, patient):
        upcoming = (patient.visible_sessions.filter(status__in=PENDING_STATUSES, ends_at__gte=timezone.now())
                    .select_related("location", "clinician__user", "room").order_by("starts_at")[:20])
        if not upcoming:
            return "No session booked."
        waitlist = reverse("admin:scheduling_waitlistentry_add")
        rows = format_html_join(
            "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
                '<td><a class="ionto-waitlist" href="{}?{}">Ask for an earlier time</a></td></tr>',
            ((reverse("admin:scheduling_appointment_change", args=[a.pk]), local_time(a), a.location.name,
              a.room.name, a.clinician, a.display_state_label, waitlist,
              urlencode({"course": a.course_id, "appointment": a.pk})) for a in upcoming),
        )
        return format_html('<table class="ionto-upcoming"><tr><th>When</th><th>Where</th><th>Room</th>'
                           "<th>Clinician</th><th>Status</th><th>Waitlist</th></tr>{}</table>", rows)


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
    add_form = CourseForm
    list_display = ("patient", "location", "indication", "phase", "status", "progress", "created_at")
    list_filter = (CourseStatusFilter, ("location", VisibleFilter), "indication", "phase")
    list_select_related = ("patient", "location")
    search_fields = ("patient__last_name", "patient__first_name", "patient__email")
    autocomplete_fields = ("patient",)
    action_form = CourseActionForm
    actions = ["complete", "discontinue", "start_maintenance"]
    change_form_template = "scheduling/admin/course_change_form.html"

    def get_queryset(self, request):
        return course_list_with_progress(courses=super().get_queryset(request))

    def get_urls(self):
        def book(request, course_id):
            return self._in_user_zone(request, lambda req: views.course_book_view(self, req, course_id))

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
              a.clinician, a.display_state_label) for a in appointments),
        )

    def create_through_service(self, request, data):
        return course_create(
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
            run_service(request, lambda c=course: course_complete(course=c, completed_by=request.user),
                        success=f"{course} is completed.")

    @admin.action(description="Discontinue the selected courses (give the reason)", permissions=["clinical"])
    def discontinue(self, request, queryset):
        reason = request.POST.get("reason", "")
        for course in queryset:
            run_service(request, lambda c=course: course_discontinue(
                course=c, discontinued_by=request.user, reason=reason),
                success=f"{course} is discontinued; its booked sessions are cancelled.")

    @admin.action(description="Plan maintenance after the selected completed courses", permissions=["clinical"])
    def start_maintenance(self, request, queryset):
        for course in queryset:
            run_service(request, lambda c=course: course_start_maintenance(
                course=c, created_by=request.user), success=f"Maintenance is planned after {course}.")
