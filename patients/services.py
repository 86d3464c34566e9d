"""Writes of patients and screenings. Nothing here deletes: patients are archived."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic import request_context
from clinic.errors import ConflictError
from clinic.models import Location
from clinic.services import full_clean_and_save
from patients.models import (
    CONTRAINDICATIONS,
    DATE_OF_BIRTH_EARLIEST,
    MEDICATED_CONTRAINDICATIONS,
    AuditAction,
    AuditEvent,
    Patient,
    ReminderChannel,
    Screening,
)
from patients.phones import phone_e164
from patients.selectors import patient_likely_duplicates, patients_visible_to

# Characters that reorder how the text around them is shown: a name holding one can display as
# another patient's name in a list or an export.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _check_patient(patient: Patient) -> None:
    """The rules a patient's details hold on every path: registering, editing in the admin or the API."""
    errors = {}
    if patient.date_of_birth > timezone.localdate():
        errors["date_of_birth"] = "The date of birth is in the future."
    elif patient.date_of_birth < DATE_OF_BIRTH_EARLIEST:
        errors["date_of_birth"] = f"The date of birth is before {DATE_OF_BIRTH_EARLIEST:%Y}; check the year."
    for field in ("first_name", "last_name"):
        if BIDI_CONTROLS.search(getattr(patient, field)):
            errors[field] = "The name holds a character that changes the direction of text; type it again."
    if patient.email_consent and not patient.email:
        errors["email"] = "An email address is needed for reminders by email."
    if patient.sms_consent and phone_e164(patient.phone) is None:
        errors["phone"] = "A valid mobile number is needed for reminders by SMS (e.g. +44 7700 900123)."
    if errors:
        raise ValidationError(errors)


class LikelyDuplicate(ConflictError):
    """A patient like this one is registered already; ``visible`` are those the user may open, ``elsewhere``
    how many more are at locations the user does not work at (named by neither name nor link)."""

    def __init__(self, *, visible: list[Patient], elsewhere: int):
        self.visible, self.elsewhere = visible, elsewhere
        named = [f"patient {patient.pk} ({patient})" for patient in visible]
        if elsewhere:
            named.append(f"{elsewhere} registered at another location")
        super().__init__("This may be a patient already registered: " + "; ".join(named) + ". Open that record, "
                         "or register again saying this is a different person.", code="likely_duplicate")


@transaction.atomic
def patient_register(
    *, first_name: str, last_name: str, date_of_birth: date, registered_by, email: str = "", phone: str = "",
    preferred_location: Location | None = None, email_consent: bool = False, front_desk_notes: str = "",
    different_person: bool = False,
    sms_consent: bool = False, reminder_channel: str = ReminderChannel.EMAIL,
) -> Patient:
    """Register a patient; a likely duplicate (same name and date of birth, or same email) is refused
    with ``LikelyDuplicate`` unless the user said it is ``different_person``."""
    if not different_person:
        likely = list(patient_likely_duplicates(first_name=first_name, last_name=last_name,
                                                date_of_birth=date_of_birth, email=email))
        if likely:
            visible = set(patients_visible_to(user=registered_by).filter(pk__in=[p.pk for p in likely])
                          .values_list("pk", flat=True))
            raise LikelyDuplicate(visible=[p for p in likely if p.pk in visible],
                                  elsewhere=sum(p.pk not in visible for p in likely))
    patient = Patient(
        first_name=first_name.strip(), last_name=last_name.strip(), date_of_birth=date_of_birth,
        email=email.strip(), phone=phone.strip(), preferred_location=preferred_location,
        email_consent=email_consent, email_consent_at=timezone.now() if email_consent else None,
        sms_consent=sms_consent, sms_consent_at=timezone.now() if sms_consent else None,
        reminder_channel=reminder_channel, front_desk_notes=front_desk_notes, registered_by=registered_by,
    )
    _check_patient(patient)
    full_clean_and_save(patient)
    audit_record(actor=registered_by, action=AuditAction.CREATE, patient=patient)
    return patient


PATIENT_EDITABLE_FIELDS = ("first_name", "last_name", "date_of_birth", "email", "phone", "preferred_location",
                           "email_consent", "sms_consent", "reminder_channel", "front_desk_notes")


@transaction.atomic
def patient_update(*, patient: Patient, updated_by, **changes) -> Patient:
    unknown = set(changes) - set(PATIENT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.is_archived:
        raise ValidationError("This patient is archived; restore the record before changing it.")
    if "email_consent" in changes and changes["email_consent"] != patient.email_consent:
        patient.email_consent_at = timezone.now() if changes["email_consent"] else None
    if "sms_consent" in changes and changes["sms_consent"] != patient.sms_consent:
        patient.sms_consent_at = timezone.now() if changes["sms_consent"] else None
    if "email" in changes and changes["email"].lower() != patient.email.lower():
        patient.email_failing_since, patient.email_failure = None, ""  # a new address is tried afresh
    changed = {field: (getattr(patient, field), value) for field, value in changes.items()
               if getattr(patient, field) != value}
    for field, value in changes.items():
        setattr(patient, field, value)
    _check_patient(patient)
    full_clean_and_save(patient)
    if changed:
        audit_record(actor=updated_by, action=AuditAction.UPDATE, patient=patient, changes=changed)
    return patient


@transaction.atomic
def patient_mark_email_failing(*, patient: Patient, address: str, failure: str) -> bool:
    """Record that the patient's mail server refused ``address`` for good (a hard bounce), so the front
    desk sees it and no more email is sent to it. Nothing changes when the patient has another address
    by now. Returns whether the patient was marked."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.email.lower() != address.lower():
        return False
    changed = {"email_failure": (patient.email_failure, failure)}
    if patient.email_failing_since is None:
        patient.email_failing_since = timezone.now()
    patient.email_failure = failure
    patient.save(update_fields=["email_failing_since", "email_failure", "updated_at"])
    audit_record(actor=None, action=AuditAction.UPDATE, patient=patient, changes=changed, via="bounce report")
    return True


@transaction.atomic
def patient_set_sms_consent_by_phone(*, phone: str, consent: bool) -> int:
    """The patient's own reply by SMS (STOP or START, from ``phone`` in E.164): the consent of every patient
    with that number follows it. Returns how many patients changed."""
    tail = re.sub(r"\D", "", phone)[-6:]
    if not tail:
        return 0
    changed = 0
    # Phones are stored as typed: narrow by the last six digits, whatever stands between them, then compare in E.164.
    ends_alike = r"\D*".join(tail) + r"\D*$"
    for patient in Patient.objects.select_for_update().filter(sms_consent=not consent, phone__regex=ends_alike):
        if phone_e164(patient.phone) == phone:
            patient.sms_consent = consent
            patient.sms_consent_at = timezone.now() if consent else None
            patient.save(update_fields=["sms_consent", "sms_consent_at", "updated_at"])
            audit_record(actor=None, action=AuditAction.UPDATE, patient=patient, via="sms reply",
                         changes={"sms_consent": (not consent, consent)})
            changed += 1
    return changed


@transaction.atomic
def patient_archive(*, patient: Patient, archived_by) -> Patient:
    """Take a patient out of every list and search; their records stay (nothing clinical is deleted).

    Booked future sessions must be cancelled first, so nobody is expected who will not come.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.is_archived:
        return patient
    # The reverse relation from scheduling; patients does not import it (dependencies point one way).
    upcoming = patient.appointments.filter(status__in=("booked", "arrived"), starts_at__gt=timezone.now()).count()
    if upcoming:
        raise ValidationError(
            f"{patient} has {upcoming} upcoming session{'s' if upcoming != 1 else ''}; cancel them first."
        )
    patient.archived_at = timezone.now()
    patient.archived_by = archived_by
    full_clean_and_save(patient)
    audit_record(actor=archived_by, action=AuditAction.ARCHIVE, patient=patient)
    return patient


@transaction.atomic
def patient_restore(*, patient: Patient, restored_by) -> Patient:
    """Bring an archived patient back; the trail keeps who archived them and when."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if not patient.is_archived:
        return patient
    changes = {"archived_at": (patient.archived_at, None), "archived_by": (patient.archived_by_id, None)}
    patient.archived_at = None
    patient.archived_by = None
    full_clean_and_save(patient)
    audit_record(actor=restored_by, action=AuditAction.RESTORE, patient=patient, changes=changes)
    return patient


@transaction.atomic
def screening_record(*, patient: Patient, recorded_by, answers: dict[str, bool], for_medicated: bool = False,
                     override_reason: str = "") -> Screening:
    """Record a patient's answers to the contraindication list; every question must be answered.

    A clinician may record a justified override of positive answers at once (override_reason).
    """
    questions = dict(CONTRAINDICATIONS)
    if for_medicated:
        questions.update(MEDICATED_CONTRAINDICATIONS)
    unknown = set(answers) - set(CONTRAINDICATIONS) - set(MEDICATED_CONTRAINDICATIONS)
    if unknown:
        raise ValidationError(f"Unknown screening questions: {', '.join(sorted(unknown))}.")
    missing = [text for field, text in questions.items() if answers.get(field) is None]
    if missing:
        raise ValidationError({"answers": f"Every question needs an answer; missing: {'; '.join(missing)}."})
    if patient.age_on(timezone.localdate()) < 6 and not answers["under_six"]:
        raise ValidationError({"answers": "The patient is under 6 years of age by their date of birth."})
    now = timezone.now()
    screening = Screening(patient=patient, for_medicated=for_medicated, recorded_by=recorded_by, recorded_at=now,
                          **{field: bool(answers[field]) for field in questions})
    if override_reason.strip():
        if not screening.positive_answers():
            raise ValidationError({"override_reason": "There is no positive answer to override."})
        screening.override_reason = override_reason.strip()
        screening.overridden_by = recorded_by
        screening.overridden_at = now
    full_clean_and_save(screening)
    audit_record(actor=recorded_by, action=AuditAction.CREATE, patient=patient, obj=screening)
    return screening


@transaction.atomic
def screening_override(*, screening: Screening, overridden_by, reason: str) -> Screening:
    """A clinician's justified decision to treat despite a positive answer."""
    screening = Screening.objects.select_for_update().get(pk=screening.pk)
    if not screening.positive_answers():
        raise ValidationError("There is no positive answer to override.")
    if not reason.strip():
        raise ValidationError({"reason": "Give the clinical reason for treating despite the contraindication."})
    screening.override_reason = reason.strip()
    screening.overridden_by = overridden_by
    screening.overridden_at = timezone.now()
    full_clean_and_save(screening)
    audit_record(actor=overridden_by, action=AuditAction.UPDATE, patient=screening.patient, obj=screening,
                 changes={"override_reason": ("", screening.override_reason)})
    return screening


def _plain(value):
    """A field value as JSON can hold it (dates and decimals as text, related rows by id)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return getattr(value, "pk", None) or str(value)


def _audit_event(*, actor, action: str, patient_id: int | None, object_type: str, object_id: str,
                 changes: dict, via: str | None, context) -> AuditEvent:
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent(
        actor=actor if authenticated else None,
        actor_label=actor.get_username() if authenticated else (via or context.via),
        action=action, via=via or context.via, patient_id=patient_id, object_type=object_type, object_id=object_id,
        changes={field: [_plain(old), _plain(new)] for field, (old, new) in changes.items()},
        ip_address=context.ip_address, user_agent=context.user_agent,
    )


def audit_record(*, actor, action: str, patient: Patient, obj=None, changes: dict | None = None,
                 via: str | None = None) -> AuditEvent:
    """Append one row to the audit trail; where from is taken from the current request, if any."""
    target = obj if obj is not None else patient
    event = _audit_event(actor=actor, action=action, patient_id=patient.pk, object_type=target._meta.model_name,
                         object_id=str(target.pk), changes=changes or {}, via=via, context=request_context.current())
    event.save()
    return event


def audit_record_many(*, actor, action: str, patient: Patient, objects: list) -> list[AuditEvent]:
    """``audit_record`` of each of ``objects`` (one patient's), in one INSERT."""
    context = request_context.current()
    events = [_audit_event(actor=actor, action=action, patient_id=patient.pk, object_type=obj._meta.model_name,
                           object_id=str(obj.pk), changes={}, via=None, context=context) for obj in objects]
    return AuditEvent.objects.bulk_create(events)


def audit_report(*, actor, action: str, report: str, details: dict, patient_ids: Iterable[int]) -> None:
    """A report of the clinic's figures shown or exported. An export (``AuditAction.EXPORT``) is one row
    with no patient and what was asked in ``details`` (kept as [None, value] like any change); every report,
    shown or exported, adds one row for each patient it names, so a patient's own trail shows it too. One
    INSERT, whatever the number of rows; none when a report on screen names no patient."""
    context = request_context.current()
    changes = {name: (None, value) for name, value in details.items()}
    via = "export" if action == AuditAction.EXPORT else None
    rows = [_audit_event(actor=actor, action=action, patient_id=patient_id, object_type="report",
                         object_id=report, changes=changes, via=via, context=context)
            for patient_id in sorted(set(patient_ids))]
    if action == AuditAction.EXPORT:
        rows.insert(0, _audit_event(actor=actor, action=action, patient_id=None, object_type="report",
                                    object_id=report, changes=changes, via=via, context=context))
    if rows:
        AuditEvent.objects.bulk_create(rows)


def audit_read(*, actor, patient: Patient, obj=None, via: str | None = None) -> AuditEvent:
    return audit_record(actor=actor, action=AuditAction.READ, patient=patient, obj=obj, via=via)
