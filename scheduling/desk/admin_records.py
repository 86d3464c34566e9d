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
        return session_record_create(
            appointment=data["appointment"], recorded_by=request.user, minutes_of_current=data["minutes_of_current"],
            sites=sites, waveform=data["waveform"], polarity_reversed=data["polarity_reversed"],
            medium=data.get("medium") or None, hdss=data.get("hdss"), pain_nprs=data.get("pain_nprs"),
            sweat_mg_min=data.get("sweat_mg_min"), sweat_site=data.get("sweat_site", ""), side_effects=effects,
            dose_ma_min=data.get("dose_ma_min"), note=data.get("note", ""),
        )
