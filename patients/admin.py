"""Admin of patients and their screening. Adds and changes go through patients.services.

The patient page's courses and appointments are added by scheduling/desk/admin_courses.py (it registers a
subclass of PatientAdmin), so this app never imports scheduling.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from clinic.admin import AUDIT_FIELDS, LocationScopedAdmin, VisibleFilter, run_service
from clinic.csv_export import csv_write
from clinic.models import StaffRole
from clinic.selectors import locations_visible_to, staff_role
from patients import services
from patients.models import CONTRAINDICATIONS, MEDICATED_CONTRAINDICATIONS, AuditEvent, Patient, Screening
from patients.selectors import (
    SEARCH_ORDER,
    FirstMatches,
    patient_matching,
    patient_of,
    patient_search,
    patients_visible_to,
    screening_current,
    screenings_visible_to,
)

CHILD_BADGE_AGE = 16
SEARCH_RESULTS_MAX = 50


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


class PatientAddForm(forms.ModelForm):
    different_person = forms.BooleanField(
        required=False, label="A different person",
        help_text="Tick when Ionto warns of a patient already registered with the same name and date of birth, "
                  "or the same email, and this is someone else.")

    class Meta:
        model = Patient
        fields = ("first_name", "last_name", "date_of_birth", "email", "phone", "preferred_location",
                  "email_consent", "sms_consent", "reminder_channel", "front_desk_notes")


def likely_duplicate_error(error: services.LikelyDuplicate) -> ValidationError:
    """The service's warning with a link to each record the user may open."""
    links = format_html_join("; ", '<a href="{}">{}</a>', (
        (reverse("admin:patients_patient_change", args=[patient.pk]), str(patient)) for patient in error.visible))
    elsewhere = (f"{error.elsewhere} registered at another location" if error.elsewhere else "")
    named = format_html("{}{}{}", links, "; " if links and elsewhere else "", elsewhere)
    return ValidationError(format_html(
        "This may be a patient already registered: {}. Open that record, or tick “A different person” and save "
        "again.", named))


@admin.register(Patient)
class PatientAdmin(AuditedReadAdmin, LocationScopedAdmin):
    rows_visible_to = staticmethod(patients_visible_to)
    add_form = PatientAddForm
    list_display = ("name", "date_of_birth", "phone", "email", "email_failing", "preferred_location", "email_consent",
                    "archived")
    list_filter = (ArchivedFilter, ("preferred_location", VisibleFilter), "email_consent")
    list_select_related = ("preferred_location",)
    search_fields = ("last_name",)  # the search itself is patients.selectors.patient_matching
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
        if obj is None:
            return [("Contact", {"fields": (*self.contact_fields, "different_person")})]
        contact = self.contact_fields
        if obj.email_failing_since is not None:
            contact = (*contact[:4], "email_failing", *contact[4:])
        return [("Contact", {"fields": contact}),
                ("Screening", {"fields": ("screening_state",)}),
                ("Record", {"fields": ("registered_by", "archived_at", "archived_by", *AUDIT_FIELDS),
                            "classes": ("collapse",)})]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_archived:
            return (*self.contact_fields, *self.readonly_fields)
        return self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("preferred_location", "registered_by", "archived_by")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(patient_matching(search_term)), False

    @staticmethod
    def searching(request) -> bool:
        return bool(request.GET.get(SEARCH_VAR, "").strip())

    def get_ordering(self, request):
        """Name order; a search's matches in SEARCH_ORDER (``patients.selectors`` says why)."""
        return SEARCH_ORDER if self.searching(request) else super().get_ordering(request)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        """A search's first matches only, as the API pages them (``FirstMatches``)."""
        if self.searching(request):
            return FirstMatches(queryset, per_page, orphans, allow_empty_first_page)
        return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if getattr(changelist.paginator, "more", False):
            messages.info(request, f"More than {FirstMatches.limit:,} patients match: the first {FirstMatches.limit:,} "
                                   "are listed. Type more of the name to narrow the search.")
        return changelist

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

    def get_urls(self):
        return [path("search/", self.admin_site.admin_view(self.search_view), name="patients_patient_search"),
                *super().get_urls()]

    def search_view(self, request):
        """The global search of every admin page: the patients the user may see, with what tells two
        of the same name apart (date of birth, phone, email, location)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = request.GET.get("q", "")[:200]
        found = list(patient_search(user=request.user, query=query, include_archived=True)[:SEARCH_RESULTS_MAX + 1])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Patients matching {query!r}" if query.strip() else "Find a patient",
            "query": query, "patient_query": query, "patients": found[:SEARCH_RESULTS_MAX],
            "more": len(found) > SEARCH_RESULTS_MAX, "limit": SEARCH_RESULTS_MAX, "opts": self.model._meta,
        }
        return TemplateResponse(request, "patients/admin/patient_search.html", context)

    def create_through_service(self, request, data):
        try:
            return services.patient_register(
                first_name=data["first_name"], last_name=data["last_name"], date_of_birth=data["date_of_birth"],
                email=data.get("email", ""), phone=data.get("phone", ""),
                preferred_location=data.get("preferred_location"), email_consent=data.get("email_consent", False),
                sms_consent=data.get("sms_consent", False), reminder_channel=data.get("reminder_channel") or "email",
                front_desk_notes=data.get("front_desk_notes", ""), registered_by=request.user,
                different_person=data.get("different_person", False),
            )
        except services.LikelyDuplicate as error:
            raise likely_duplicate_error(error) from error

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
