"""Admin of patients and their screening. Adds and changes go through patients.services.

The patient page's courses and appointments are added by scheduling/desk/admin_courses.py (it registers a
subclass of PatientAdmin), so this app never imports scheduling.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import unquote
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from clinic.admin import AUDIT_FIELDS, LocationScopedAdmin, run_service
from clinic.csv_export import csv_write
from clinic.models import StaffRole
from clinic.selectors import locations_visible_to, staff_role
from patients import services
from patients.models import CONTRAINDICATIONS, MEDICATED_CONTRAINDICATIONS, AuditEvent, Patient, Screening
from patients.selectors import (
    patient_list,
    patient_of,
    patients_visible_to,
    screening_current,
    screenings_visible_to,
)

CHILD_BADGE_AGE = 16


class ArchivedFilter(admin.SimpleListFilter):
    title = "record"
    parameter_name = "record"

    def lookups(self, request, model_admin):
        return [("archived", "Archived"), ("all", "All")]

    def queryset(self, request, queryset):
        if self.value() == "archived":
            return queryset.filter(archived_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(archived_at__isnull=True)

    def choices(self, changelist):
        yield {"selected": self.value() is None, "display": "Current",
               "query_string": changelist.get_query_string(remove=[self.parameter_name])}
        for value, label in self.lookup_choices:
            yield {"selected": self.value() == value, "display": label,
                   "query_string": changelist.get_query_string({self.parameter_name: value})}


def screening_summary(screening: Screening | None, *, show_answers: bool) -> str:
    """The screening's effect on booking in plain words; the answers only for clinicians."""
    if screening is None:
        return mark_safe('<p class="ionto-warning"><strong>No screening yet.</strong> A clinician records the '  # noqa: S308  # a constant  # nosec B308 B703
                         "contraindication screening before the first booking.</p>")
    when = f"{screening.recorded_at:%d %b %Y}"
    positive = screening.positive_answers()
    answers = f" ({'; '.join(positive)})" if show_answers and positive else ""
    if screening.blocks_booking:
        return format_html('<p class="ionto-warning"><strong>Booking blocked:</strong> the screening of {} found a '
                           "contraindication{}. A clinician must review it and record an override before any "
                           "session can be booked.</p>", when, answers)
    if positive:
        reason = f": {screening.override_reason}" if show_answers else ""
        return format_html('<p class="ionto-alert"><strong>Medical alert:</strong> contraindication overridden by a '
                           "clinician on {}{}{}.</p>", f"{screening.overridden_at:%d %b %Y}", answers, reason)
    drug = " (with the drug questions)" if screening.for_medicated else ""
    return format_html("<p>Screened on {}{}: no contraindication.</p>", when, drug)


class PatientActionForm(ActionForm):
    pass


class AuditedReadAdmin:
    """Opening a patient's record (or a record about them) in the admin writes a read to the audit trail."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))
            patient = patient_of(obj) if obj is not None else None
            if patient is not None:
                services.audit_read(actor=request.user, patient=patient, obj=obj)
        return response


@admin.register(Patient)
class PatientAdmin(AuditedReadAdmin, LocationScopedAdmin):
    rows_visible_to = staticmethod(patients_visible_to)
    list_display = ("name", "date_of_birth", "phone", "email", "email_failing", "preferred_location", "email_consent",
                    "archived")
    list_filter = (ArchivedFilter, "preferred_location", "email_consent")
    list_select_related = ("preferred_location",)
    search_fields = ("last_name",)  # the search itself is patients.selectors.patient_list
    search_help_text = "Name, email, phone or date of birth (2001-04-23 or 23/04/2001)."
    actions = ["archive", "restore"]
    readonly_fields = ("email_failing", "screening_state", "registered_by", "archived_at", "archived_by",
                       *AUDIT_FIELDS)
    contact_fields = ("first_name", "last_name", "date_of_birth", "email", "phone", "preferred_location",
                      "email_consent", "sms_consent", "reminder_channel", "front_desk_notes")

    @admin.display(description="Email failing")
    def email_failing(self, patient: Patient) -> str:
        """A hard bounce reported by the patient's mail server: no email goes there until it is changed."""
        if patient.email_failing_since is None:
            return ""
        return f"Bounced since {patient.email_failing_since:%Y-%m-%d}: {patient.email_failure}"

    def get_fieldsets(self, request, obj=None):
        contact = self.contact_fields
        if obj is not None and obj.email_failing_since is not None:
            contact = (*contact[:4], "email_failing", *contact[4:])
        fieldsets = [("Contact", {"fields": contact})]
        if obj is not None:
            fieldsets.append(("Screening", {"fields": ("screening_state",)}))
            fieldsets.append(("Record", {"fields": ("registered_by", "archived_at", "archived_by", *AUDIT_FIELDS),
                                         "classes": ("collapse",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_archived:
            return (*self.contact_fields, *self.readonly_fields)
        return self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("preferred_location", "registered_by", "archived_by")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        found = patient_list(search=search_term, include_archived=True).values("pk")
        return queryset.filter(pk__in=found), False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "preferred_location":
            kwargs["queryset"] = locations_visible_to(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="name", ordering="last_name")
    def name(self, patient):
        return f"{patient.last_name}, {patient.first_name}"

    @admin.display(description="archived", boolean=True)
    def archived(self, patient):
        return patient.is_archived

    @admin.display(description="screening")
    def screening_state(self, patient):
        show_answers = getattr(patient, "viewer_sees_screening_answers", False)
        return screening_summary(screening_current(patient=patient), show_answers=show_answers)

    def get_object(self, request, object_id, from_field=None):
        patient = super().get_object(request, object_id, from_field)
        if patient is not None:
            # Screening answers are for clinicians and managers; the front desk sees only the effect.
            patient.viewer_sees_screening_answers = request.user.has_perm("patients.view_screening")
        return patient

    def create_through_service(self, request, data):
        return services.patient_register(
            first_name=data["first_name"], last_name=data["last_name"], date_of_birth=data["date_of_birth"],
            email=data.get("email", ""), phone=data.get("phone", ""),
            preferred_location=data.get("preferred_location"), email_consent=data.get("email_consent", False),
            sms_consent=data.get("sms_consent", False), reminder_channel=data.get("reminder_channel") or "email",
            front_desk_notes=data.get("front_desk_notes", ""), registered_by=request.user,
        )

    def change_through_service(self, request, obj, data, changed):
        return services.patient_update(patient=obj, updated_by=request.user,
                                       **{field: data[field] for field in changed})

    @admin.action(description="Archive the selected patients", permissions=["change"])
    def archive(self, request, queryset):
        for patient in queryset:
            run_service(request, lambda p=patient: services.patient_archive(patient=p, archived_by=request.user),
                        success=f"{patient} is archived.")

    @admin.action(description="Restore the selected archived patients", permissions=["change"])
    def restore(self, request, queryset):
        for patient in queryset:
            run_service(request, lambda p=patient: services.patient_restore(patient=p, restored_by=request.user),
                        success=f"{patient} is restored.")


YES_NO = [("no", "No"), ("yes", "Yes")]


class ScreeningForm(forms.ModelForm):
    """Every question answered yes or no explicitly: an unticked box is not an answer."""

    class Meta:
        model = Screening
        fields = ("patient", "for_medicated", "override_reason")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        questions = {**CONTRAINDICATIONS, **MEDICATED_CONTRAINDICATIONS}
        for name, text in questions.items():
            self.fields[name] = forms.ChoiceField(
                label=text, choices=YES_NO, widget=forms.RadioSelect, required=name in CONTRAINDICATIONS,
                help_text="Only for a medicated course." if name in MEDICATED_CONTRAINDICATIONS else "",
            )
        self.fields["override_reason"].help_text = ("A clinician's justified reason to treat despite a positive "
                                                    "answer; leave empty otherwise.")


class ScreeningActionForm(ActionForm):
    reason = forms.CharField(required=False, label="Override reason",
                             widget=forms.TextInput(attrs={"size": 50}))


@admin.register(Screening)
class ScreeningAdmin(AuditedReadAdmin, LocationScopedAdmin):
    """Clinicians and managers only: the front desk has no permission on screenings."""

    rows_visible_to = staticmethod(screenings_visible_to)
    add_form = ScreeningForm

    list_display = ("patient", "recorded_at", "for_medicated", "result", "recorded_by")
    list_filter = ("for_medicated",)
    list_select_related = ("patient", "recorded_by")
    search_fields = ("patient__last_name", "patient__first_name")
    date_hierarchy = "recorded_at"
    autocomplete_fields = ("patient",)
    action_form = ScreeningActionForm
    actions = ["override"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("patient", "for_medicated", *CONTRAINDICATIONS, *MEDICATED_CONTRAINDICATIONS, "override_reason")
        return [f.name for f in Screening._meta.fields if f.name != "id"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "patient":
            kwargs["queryset"] = patients_visible_to(user=request.user).filter(archived_at__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="result")
    def result(self, screening):
        if screening.blocks_booking:
            return "Blocks booking"
        return "Overridden" if screening.is_overridden else "Clear"

    def create_through_service(self, request, data):
        answers = {name: data[name] == "yes" for name in CONTRAINDICATIONS}
        if data["for_medicated"]:
            answers.update({name: data[name] == "yes" if data.get(name) else None
                            for name in MEDICATED_CONTRAINDICATIONS})
        return services.screening_record(patient=data["patient"], recorded_by=request.user, answers=answers,
                                         for_medicated=data["for_medicated"],
                                         override_reason=data.get("override_reason", ""))

    @admin.action(description="Record a clinician's override (give the reason)", permissions=["change"])
    def override(self, request, queryset):
        reason = request.POST.get("reason", "")
        for screening in queryset:
            run_service(request, lambda s=screening: services.screening_override(
                screening=s, overridden_by=request.user, reason=reason),
                success=f"The override of {screening} is recorded.")


def is_child(patient: Patient) -> bool:
    return patient.age_on(timezone.localdate()) < CHILD_BADGE_AGE


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, for managers: browse, filter, and export as CSV. Nothing here can change it."""

    list_display = ("at", "actor_label", "action", "via", "patient", "object_type", "object_id", "ip_address")
    list_filter = ("action", "via", "object_type")
    list_select_related = ("patient",)
    search_fields = ("actor_label", "patient__last_name", "patient__first_name", "ip_address")
    date_hierarchy = "at"
    show_full_result_count = False
    actions = ["export_csv"]

    def has_module_permission(self, request):
        return staff_role(request.user) == StaffRole.MANAGER

    def has_view_permission(self, request, obj=None):
        return staff_role(request.user) == StaffRole.MANAGER

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Export the selected rows as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
        csv_write(response, header=["at", "actor", "action", "via", "patient_id", "object_type", "object_id",
                                    "changes", "ip_address", "user_agent"], rows=(
            (event.at.isoformat(), event.actor_label, event.action, event.via, event.patient_id, event.object_type,
             event.object_id, json.dumps(event.changes), event.ip_address, event.user_agent)
            for event in queryset.order_by("at", "id").iterator()
        ))
        return response
