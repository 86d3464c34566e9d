"""Session records: what was done in a session, and the input that completes an appointment."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from api.fields import (
    StrictInputSerializer,
)
from scheduling.models import (
    CURRENT_MA_MAX,
    HDSS_MAX,
    HDSS_MIN,
    MEDICATED_DOSE_MAX_MA_MIN,
    PAIN_NPRS_MAX,
    SESSION_MINUTES_MAX,
    SIDE_EFFECT_GRADE_MAX,
    SIDE_EFFECT_GRADE_MIN,
    BodySite,
    Medium,
    SessionRecord,
    SessionSite,
    SideEffect,
    SideEffectKind,
    Waveform,
)


class SessionSiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = SessionSite
        fields = ["site", "site_other", "current_ma"]
        read_only_fields = fields


class SideEffectSerializer(serializers.ModelSerializer):
    class Meta:
        model = SideEffect
        fields = ["kind", "kind_other", "grade"]
        read_only_fields = fields


class SessionRecordSerializer(serializers.ModelSerializer):
    sites = SessionSiteSerializer(many=True, read_only=True)
    sweat_site = serializers.ChoiceField(choices=BodySite.choices, allow_blank=True, read_only=True)
    side_effects = SideEffectSerializer(many=True, read_only=True)

    class Meta:
        model = SessionRecord
        fields = ["id", "appointment", "minutes_of_current", "waveform", "polarity_reversed", "medium",
                  "dose_ma_min", "hdss", "pain_nprs", "sweat_mg_min", "sweat_site", "note", "sites", "side_effects",
                  "recorded_by", "created_at"]
        read_only_fields = fields


class SessionSiteInputSerializer(StrictInputSerializer):
    site = serializers.ChoiceField(choices=BodySite.choices)
    site_other = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    current_ma = serializers.DecimalField(max_digits=4, decimal_places=1, coerce_to_string=False,
                                          label="Current (mA)", help_text="The current at this site, mA.",
                                          min_value=Decimal("0.1"),
                                          max_value=Decimal(CURRENT_MA_MAX))


class SideEffectInputSerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=SideEffectKind.choices)
    kind_other = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    grade = serializers.IntegerField(
        min_value=SIDE_EFFECT_GRADE_MIN, max_value=SIDE_EFFECT_GRADE_MAX, label="Grade (1-3)",
        help_text="1 redness without pain, 2 blisters or pain not limiting, 3 ulceration or limiting.")


class AppointmentCompleteSerializer(StrictInputSerializer):
    """The session record that completes an appointment."""

    minutes_of_current = serializers.IntegerField(
        min_value=1, max_value=SESSION_MINUTES_MAX, label="Minutes of current",
        help_text="How long the current ran, 1-45 minutes (may be shorter than the session).")
    sites = SessionSiteInputSerializer(many=True, min_length=1, max_length=4)
    waveform = serializers.ChoiceField(choices=Waveform.choices, default=Waveform.DC)
    polarity_reversed = serializers.BooleanField(default=False)
    medium = serializers.ChoiceField(choices=Medium.choices, required=False, allow_null=True, default=None)
    hdss = serializers.IntegerField(min_value=HDSS_MIN, max_value=HDSS_MAX, required=False, allow_null=True,
                                    label="HDSS (1-4)", help_text="Hyperhidrosis Disease Severity Scale, 1 (never "
                                    "noticeable) to 4 (intolerable); hyperhidrosis courses.",
                                    default=None)
    pain_nprs = serializers.IntegerField(min_value=0, max_value=PAIN_NPRS_MAX, required=False, allow_null=True,
                                         label="Pain (0-10)", help_text="Pain on the numeric rating scale (NPRS); "
                                         "musculoskeletal courses.",
                                         default=None)
    sweat_mg_min = serializers.DecimalField(max_digits=6, decimal_places=1, coerce_to_string=False,
                                            min_value=Decimal(0), required=False,
                                            allow_null=True, default=None)
    sweat_site = serializers.ChoiceField(choices=BodySite.choices, required=False, allow_blank=True, default="")
    side_effects = SideEffectInputSerializer(many=True, required=False, default=list, max_length=7)
    dose_ma_min = serializers.DecimalField(max_digits=5, decimal_places=1, coerce_to_string=False,
                                           label="Dose (mA·min)", help_text="Delivered dose of a medicated session "
                                           "(never above 80); computed from current × minutes when left out.",
                                           min_value=Decimal(0),
                                           max_value=Decimal(MEDICATED_DOSE_MAX_MA_MIN), required=False,
                                           allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
