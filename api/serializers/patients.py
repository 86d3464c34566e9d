"""Patients and their screenings: the front desk's shape, and the clinical one with the answers."""

from __future__ import annotations

from functools import cached_property

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import (
    AsciiDateField,
    ScopedPrimaryKeyField,
    StrictInputSerializer,
)
from clinic.models import Location
from patients.models import CONTRAINDICATIONS, MEDICATED_CONTRAINDICATIONS, Patient, ReminderChannel, Screening


class PatientSerializer(serializers.ModelSerializer):
    """What the front desk sees of a patient: contact data, nothing clinical."""

    # Declared so the schema says what a patient without an address gets: an empty string.
    email = serializers.EmailField(read_only=True, allow_blank=True)

    class Meta:
        model = Patient
        fields = ["id", "first_name", "last_name", "date_of_birth", "email", "phone", "preferred_location",
                  "email_consent", "email_consent_at", "sms_consent", "sms_consent_at", "reminder_channel",
                  "email_failing_since", "front_desk_notes", "archived_at"]
        read_only_fields = fields


class ScreeningSerializer(serializers.ModelSerializer):
    """A patient's answers to the contraindication list (clinicians and managers only)."""

    positive_answers = serializers.ListField(child=serializers.CharField(), read_only=True)
    blocks_booking = serializers.BooleanField(read_only=True)

    class Meta:
        model = Screening
        fields = ["id", "patient", "for_medicated", *CONTRAINDICATIONS, *MEDICATED_CONTRAINDICATIONS,
                  "recorded_by", "recorded_at", "override_reason", "overridden_by", "overridden_at",
                  "positive_answers", "blocks_booking"]
        read_only_fields = fields


class PatientClinicalSerializer(PatientSerializer):
    """What clinicians and managers see: the contact data and the current screening."""

    screening = serializers.SerializerMethodField(
        help_text="The current screening; clinicians and managers only (the front desk never gets this field)."
    )

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "screening"]
        read_only_fields = fields

    @cached_property
    def _screening(self) -> ScreeningSerializer:
        """One screening serializer for every row: DRF builds a serializer's fields per instance,
        which cost more than the rest of a 50-patient page."""
        return ScreeningSerializer(context=self.context)

    @extend_schema_field(ScreeningSerializer(allow_null=True, required=False))
    def get_screening(self, patient: Patient):
        current = getattr(patient, "current_screenings", None)
        return self._screening.to_representation(current[0]) if current else None


class PatientCreateSerializer(StrictInputSerializer):
    first_name = serializers.CharField(max_length=80)
    last_name = serializers.CharField(max_length=80)
    date_of_birth = AsciiDateField()
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    preferred_location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    email_consent = serializers.BooleanField(default=False)
    sms_consent = serializers.BooleanField(default=False, help_text="Texts need a phone number in E.164 form.")
    reminder_channel = serializers.ChoiceField(choices=ReminderChannel.choices, default=ReminderChannel.EMAIL)
    front_desk_notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    different_person = serializers.BooleanField(
        default=False, help_text="Register although a patient with the same name and date of birth, or the same "
                                 "email, exists (the first try answers 409 likely_duplicate naming them).")


class PatientUpdateSerializer(StrictInputSerializer):
    first_name = serializers.CharField(max_length=80, required=False)
    last_name = serializers.CharField(max_length=80, required=False)
    date_of_birth = AsciiDateField(required=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    preferred_location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all(), required=False)
    email_consent = serializers.BooleanField(required=False)
    sms_consent = serializers.BooleanField(required=False)
    reminder_channel = serializers.ChoiceField(choices=ReminderChannel.choices, required=False)
    front_desk_notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def _answer_fields(*, medicated_only: bool) -> dict:
    names = MEDICATED_CONTRAINDICATIONS if medicated_only else CONTRAINDICATIONS
    return {name: serializers.BooleanField(help_text=question, required=medicated_only is False,
                                           allow_null=medicated_only)
            for name, question in names.items()}


ScreeningAnswersSerializer = type(
    "ScreeningAnswersSerializer", (StrictInputSerializer,),
    {**_answer_fields(medicated_only=False), **_answer_fields(medicated_only=True),
     "__doc__": "One answer per contraindication; the drug questions only for a medicated course."},
)


class ScreeningCreateSerializer(StrictInputSerializer):
    patient = ScopedPrimaryKeyField(scope="patients", queryset=Patient.objects.all())
    for_medicated = serializers.BooleanField(default=False)
    answers = ScreeningAnswersSerializer()
    override_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ScreeningOverrideSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)
