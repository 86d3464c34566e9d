"""Patients and their intake screening for contraindications."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import CharField, Func, Q
from django.db.models.functions import Upper

from clinic.models import Location, PeriodQuerySet, TimeStampedModel

# No patient alive was born earlier; an earlier date is a typing error (e.g. 0985 for 1985).
DATE_OF_BIRTH_EARLIEST = date(1900, 1, 1)


class PhoneDigits(Func):
    """The digits of a phone number, so a search matches it in any spacing: '+44 7700 900123' -> '447700900123'."""

    function = "REGEXP_REPLACE"
    template = "%(function)s(%(expressions)s, '[^0-9]', '', 'g')"
    output_field = CharField()


class ReminderChannel(models.TextChoices):
    """How the patient wants session reminders; every other message goes by email."""

    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    BOTH = "both", "Email and SMS"


class Patient(TimeStampedModel):
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    date_of_birth = models.DateField()
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    preferred_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="patients"
    )
    email_consent = models.BooleanField(default=False, help_text="The patient agreed to reminders by email.")
    email_consent_at = models.DateTimeField(null=True, blank=True)
    email_failing_since = models.DateTimeField(
        null=True, blank=True, help_text="When the patient's mail server reported the address as not working "
                                         "(a hard bounce); cleared when the address changes.")
    email_failure = models.TextField(blank=True, help_text="What the mail server reported.")
    sms_consent = models.BooleanField(default=False, help_text="The patient agreed to reminders by SMS.")
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    reminder_channel = models.CharField(max_length=5, choices=ReminderChannel.choices, default=ReminderChannel.EMAIL,
                                        help_text="How session reminders go; other messages go by email.")
    front_desk_notes = models.TextField(blank=True, help_text="Practical notes only, nothing clinical.")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(email_consent=False) | ~Q(email=""), name="patient_email_consent_needs_email"
            ),
            models.CheckConstraint(
                condition=Q(sms_consent=False) | ~Q(phone=""), name="patient_sms_consent_needs_phone"
            ),
            models.CheckConstraint(
                condition=Q(archived_at__isnull=True) | Q(archived_by__isnull=False),
                name="patient_archive_names_who",
            ),
            models.CheckConstraint(
                condition=Q(date_of_birth__gte=DATE_OF_BIRTH_EARLIEST), name="patient_date_of_birth_from_1900"
            ),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="patient_name"),
            models.Index(fields=["date_of_birth"], name="patient_date_of_birth"),
            # Search matches name and email prefixes case-blind and any part of a phone number's digits:
            # trigram indexes serve all of them, so search stays fast at 100,000s of patients.
            GinIndex(OpClass(Upper("last_name"), name="gin_trgm_ops"), name="patient_last_name_trgm"),
            GinIndex(OpClass(Upper("first_name"), name="gin_trgm_ops"), name="patient_first_name_trgm"),
            GinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="patient_email_trgm"),
            GinIndex(OpClass(PhoneDigits("phone"), name="gin_trgm_ops"), name="patient_phone_digits_trgm"),
        ]

    def __str__(self) -> str:
        """With the date of birth, so two patients of one name are told apart in every picker and list."""
        return f"{self.first_name} {self.last_name} (born {self.date_of_birth:%d %b %Y})"

    def age_on(self, day: date) -> int:
        years = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


# The contraindication list of DESIGN.md: field name -> question shown to the clinician.
CONTRAINDICATIONS: dict[str, str] = {
    "pacemaker": "Pacemaker or implanted defibrillator",
    "pregnancy": "Pregnant",
    "metal_implants": "Metal implants in the current path",
    "epilepsy": "Epilepsy",
    "heart_disease": "Heart disease or arrhythmia",
    "open_wounds": "Open wounds that cannot be covered",
    "reduced_sensation": "Reduced sensation in the treated limbs",
    "skin_condition": "Skin cancer, infection or inflamed skin at the site",
    "thrombosis": "Thrombosis",
    "under_six": "Under 6 years of age",
}
# Asked in addition before a medicated (drug) course.
MEDICATED_CONTRAINDICATIONS: dict[str, str] = {
    "drug_allergy": "Allergy to the drug to be used",
    "damaged_skin": "Damaged skin or a recent scar at the site",
}


class Screening(TimeStampedModel):
    """Intake answers to the contraindication list, signed by a clinician (FHIR QuestionnaireResponse).

    A positive answer blocks booking until a clinician records a justified override.
    A new screening replaces the earlier one; none is ever deleted.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="screenings")
    for_medicated = models.BooleanField(default=False, help_text="Includes the questions for a drug course.")
    pacemaker = models.BooleanField()
    pregnancy = models.BooleanField()
    metal_implants = models.BooleanField()
    epilepsy = models.BooleanField()
    heart_disease = models.BooleanField()
    open_wounds = models.BooleanField()
    reduced_sensation = models.BooleanField()
    skin_condition = models.BooleanField()
    thrombosis = models.BooleanField()
    under_six = models.BooleanField()
    drug_allergy = models.BooleanField(null=True, blank=True)
    damaged_skin = models.BooleanField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    override_reason = models.TextField(blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    overridden_at = models.DateTimeField(null=True, blank=True)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["patient", "-recorded_at"]
        get_latest_by = "recorded_at"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(overridden_by__isnull=True, overridden_at__isnull=True, override_reason="")
                    | (Q(overridden_by__isnull=False, overridden_at__isnull=False) & ~Q(override_reason=""))
                ),
                name="screening_override_is_complete",
            ),
            models.CheckConstraint(
                condition=Q(for_medicated=False) | Q(drug_allergy__isnull=False, damaged_skin__isnull=False),
                name="screening_medicated_questions_answered",
            ),
        ]
        indexes = [models.Index(fields=["patient", "-recorded_at"], name="screening_patient_latest")]

    def __str__(self) -> str:
        return f"Screening of {self.patient} on {self.recorded_at:%Y-%m-%d}"

    def positive_answers(self) -> list[str]:
        """The questions answered yes, in the clinician's words."""
        questions = dict(CONTRAINDICATIONS)
        if self.for_medicated:
            questions.update(MEDICATED_CONTRAINDICATIONS)
        return [text for field, text in questions.items() if getattr(self, field)]

    @property
    def is_overridden(self) -> bool:
        return self.overridden_at is not None

    @property
    def blocks_booking(self) -> bool:
        return bool(self.positive_answers()) and not self.is_overridden


class AuditAction(models.TextChoices):
    READ = "read", "Read"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    ARCHIVE = "archive", "Archive"
    RESTORE = "restore", "Restore"
    EXPORT = "export", "Export"


class AuditEvent(models.Model):
    """Who read or changed which patient's data, when, from where, and what changed.

    Append-only: a database trigger refuses every UPDATE and DELETE, so neither the application
    nor anyone with its database login can alter the trail. It outlives a patient's archive.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    actor_label = models.CharField(max_length=150, help_text="The user name, or 'patient link'.")
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    via = models.CharField(max_length=20, help_text="admin, api, export, patient link or service")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events",
                                help_text="Whose data; empty for an export of the clinic's figures (a report).")
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    changes = models.JSONField(default=dict, blank=True, help_text="Field: [old, new] of what changed.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "-at"], name="audit_patient_latest")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type} {self.object_id}"
