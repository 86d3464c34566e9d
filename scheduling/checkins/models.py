"""Check-ins: the course's outcome question asked of the patient by a signed link (FHIR QuestionnaireResponse)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from clinic.models import TimeStampedModel
from scheduling.scales import HDSS_MAX, HDSS_MIN, PAIN_NPRS_MAX

# This module does not import scheduling.models: that module imports this one, at its end, so Django
# registers CheckIn.


class CheckInPurpose(models.TextChoices):
    BASELINE = "baseline", "Before the first session"
    AFTER_COURSE = "after_course", "After the course"
    PERIODIC = "periodic", "While waiting for maintenance"


class SkinReaction(models.TextChoices):
    NONE = "none", "None"
    DRYNESS = "dryness", "Dryness"
    REDNESS = "redness", "Redness"
    BLISTERS = "blisters", "Blisters"
    BURN = "burn", "A burn"


# A reported blister or burn raises the side-effect flag, as a recorded grade 2+ blistering or burn does.
FLAGGED_SKIN_REACTIONS = (SkinReaction.BLISTERS, SkinReaction.BURN)


class CheckIn(TimeStampedModel):
    """One planned question to the patient and, once given, the answer (one per check-in).

    ``appointment`` is the session it is anchored on: the first session for a baseline, the line's last
    session after the course; its email (``notification``) hangs on the same session. ``weeks_after``
    counts from that session (0 for a baseline), so each check-in is planned once.
    """

    course = models.ForeignKey("scheduling.Course", on_delete=models.PROTECT, related_name="check_ins")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="check_ins")
    appointment = models.ForeignKey("scheduling.Appointment", on_delete=models.PROTECT, related_name="check_ins")
    purpose = models.CharField(max_length=12, choices=CheckInPurpose.choices)
    weeks_after = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(help_text="When the email goes out, UTC.")
    notification = models.OneToOneField("scheduling.Notification", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="check_in")
    hdss = models.PositiveSmallIntegerField("HDSS (1-4)", null=True, blank=True,
                                            validators=[MinValueValidator(HDSS_MIN), MaxValueValidator(HDSS_MAX)])
    pain_nprs = models.PositiveSmallIntegerField("Pain (NPRS 0-10)", null=True, blank=True,
                                                 validators=[MaxValueValidator(PAIN_NPRS_MAX)])
    skin_reaction = models.CharField(max_length=10, choices=SkinReaction.choices, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "scheduling"
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "purpose", "weeks_after"], name="check_in_planned_once"),
            models.CheckConstraint(condition=Q(hdss__isnull=True) | Q(hdss__gte=HDSS_MIN, hdss__lte=HDSS_MAX),
                                   name="check_in_hdss_1_to_4"),
            models.CheckConstraint(condition=Q(pain_nprs__isnull=True) | Q(pain_nprs__lte=PAIN_NPRS_MAX),
                                   name="check_in_pain_0_to_10"),
            # One answer: a score of one kind exactly when answered, never both.
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True, hdss__isnull=True, pain_nprs__isnull=True, skin_reaction="")
                | Q(answered_at__isnull=False, hdss__isnull=False, pain_nprs__isnull=True)
                | Q(answered_at__isnull=False, hdss__isnull=True, pain_nprs__isnull=False),
                name="check_in_one_score_when_answered"),
        ]
        indexes = [models.Index(fields=["course", "answered_at"], name="check_in_course_answered")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} check-in of {self.patient}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None

    @property
    def score(self) -> int | None:
        return self.hdss if self.hdss is not None else self.pain_nprs
