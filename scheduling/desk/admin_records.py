"""Admin of session records: clinicians and managers only (the front desk has no permission on them)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone

from clinic.admin import AUDIT_FIELDS, LocationScopedAdmin, ReadOnlyInline
from patients.admin import AuditedReadAdmin
from scheduling.booking.selectors import (
    PENDING_STATUSES,
    appointments_visible_to,
    session_records_visible_to,
)
from scheduling.desk.selectors import local_time
from scheduling.models import (
    BodySite,
    SessionRecord,
    SessionSite,
    SideEffect,
    SideEffectKind,
)
from scheduling.records.services import session_record_create


def grade_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label=label,
        choices=[("", "none"), (1, "1: redness, no pain"), (2, "2: blisters or pain, not limiting"),
                 (3, "3: ulceration or limiting")])


GRADED_KINDS = [kind for kind in SideEffectKind.values if kind != SideEffectKind.OTHER]


class SessionRecordForm(forms.ModelForm):
    """A session as the clinician records it; the service checks the currents, dose and scores."""

    palms_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Palms (mA)")
    soles_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Soles (mA)")
    axillae_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Axillae (mA)")
    other_ma = forms.DecimalField(required=False, max_digits=4, decimal_places=1, label="Other site (mA)")
    other_site = forms.CharField(required=False, max_length=120, label="Other site: where")
    # One grade per side effect: a session can have several (DESIGN.md), and a grade always belongs to one.
    tingling_grade = grade_field("Tingling (grade 1-3)")
    itching_grade = grade_field("Itching (grade 1-3)")
    erythema_grade = grade_field("Erythema (grade 1-3)")
    dryness_grade = grade_field("Dryness (grade 1-3)")
    blistering_grade = grade_field("Blistering (grade 1-3)")
    burn_grade = grade_field("Burn (grade 1-3)")
    other_effect = forms.CharField(required=False, max_length=120, label="Other side effect: what")
    other_effect_grade = grade_field("Other side effect (grade 1-3)")

    class Meta:
        model = SessionRecord
        fields = ("appointment", "minutes_of_current", "waveform", "polarity_reversed", "medium", "dose_ma_min",
                  "hdss", "pain_nprs", "sweat_mg_min", "sweat_site", "note")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["medium"].required = False

    def clean(self):
        data = super().clean()
        what, grade = data.get("other_effect", "").strip(), data.get("other_effect_grade")
        if grade is not None and not what:
            self.add_error("other_effect", "Say what the other side effect was, or leave its grade empty.")
        elif what and grade is None:
            self.add_error("other_effect_grade", "Give the grade (1-3) of the other side effect.")
        return data



class SiteInline(ReadOnlyInline):
    model = SessionSite
    fields = ("site", "site_other", "current_ma")


class SideEffectInline(ReadOnlyInline):
    model = SideEffect
    fields = ("kind", "kind_other", "grade")


@admin.register(SessionRecord)
class SessionRecordAdmin(AuditedReadAdmin, LocationScopedAdmin):
    rows_visible_to = staticmethod(session_records_visible_to)
    add_form = SessionRecordForm
    list_display = ("patient", "session_day", "minutes_of_current", "hdss", "pain_nprs", "recorded_by")
    list_select_related = ("appointment__patient", "appointment__location", "recorded_by")
    search_fields = ("appointment__patient__last_name", "appointment__patient__first_name")
    date_hierarchy = "created_at"
    inlines = [SiteInline, SideEffectInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "appointment":
            kwargs["queryset"] = appointments_visible_to(user=request.user).filter(
                status__in=PENDING_STATUSES, starts_at__lte=timezone.now()).select_related("patient", "location")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("appointment", "minutes_of_current", "waveform", "polarity_reversed", "medium", "palms_ma",
                    "soles_ma", "axillae_ma", "other_ma", "other_site", "dose_ma_min", "hdss", "pain_nprs",
                    "sweat_mg_min", "sweat_site", *(f"{kind}_grade" for kind in GRADED_KINDS), "other_effect",
                    "other_effect_grade", "note")
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
        effects = [{"kind": kind, "grade": data[f"{kind}_grade"]} for kind in GRADED_KINDS
                   if data.get(f"{kind}_grade") is not None]
        if data.get("other_effect_grade") is not None:
            effects.append({"kind": SideEffectKind.OTHER, "kind_other": data["other_effect"].strip(),
                            "grade": data["other_effect_grade"]})
        return session_record_create(
            appointment=data["appointment"], recorded_by=request.user, minutes_of_current=data["minutes_of_current"],
            sites=sites, waveform=data["waveform"], polarity_reversed=data["polarity_reversed"],
            medium=data.get("medium") or None, hdss=data.get("hdss"), pain_nprs=data.get("pain_nprs"),
            sweat_mg_min=data.get("sweat_mg_min"), sweat_site=data.get("sweat_site", ""), side_effects=effects,
            dose_ma_min=data.get("dose_ma_min"), note=data.get("note", ""),
        )
