"""Reads of patients and screenings."""

from __future__ import annotations

import re
from datetime import date, datetime

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.db.models.functions import Upper
from django.db.models.lookups import Contains
from django.utils.functional import cached_property

from clinic.models import StaffRole
from clinic.selectors import location_ids_visible_to, staff_role
from patients.models import Patient, PhoneDigits, Screening

# What a typed phone number is made of; six digits or more are taken as one number.
PHONE_TYPED = re.compile(r"\+?[0-9][0-9 ().\-/]*")
PHONE_DIGITS_MIN = 6

# The order of search results: by name regardless of case. No index supplies it, on purpose. With a
# name-ordered index PostgreSQL walks the patients in name order, checking each against the search, until a
# page is full: for a prefix that sorts late ("Wil") that read 1.2 million of 1.5 million patients (8 s).
# Without one it gathers the matches through the trigram indexes and sorts them (0.24 s; bench/README.md).
SEARCH_ORDER = (Upper("last_name"), Upper("first_name"), "date_of_birth", "id")


class FirstMatches(Paginator):
    """The pages of a search's first ``limit`` matches (the API's ``search``, the patient list's search box):
    one more is counted, unordered, to tell that more match. Counting every match of a short prefix read every
    one of them: "Wil" matched 187,585 of 1.5 million patients and took 230 ms to count, against 8 ms for the
    first 1,001 (bench/README.md)."""

    limit = 1000

    @cached_property
    def matches(self) -> int:
        return self.object_list.order_by()[: self.limit + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.matches, self.limit)

    @property
    def more(self) -> bool:
        return self.matches > self.limit


def patients_visible_to(*, user) -> QuerySet[Patient]:
    """Patients whose preferred location is one of the user's, or who have a course at one; a manager
    sees every patient. Archived ones too: the caller chooses. The courses are read through the
    reverse relation of scheduling's Course, so that this app still imports nothing of scheduling."""
    if staff_role(user) == StaffRole.MANAGER:
        return Patient.objects.all()
    mine = location_ids_visible_to(user=user)
    with_course_here = Patient.objects.filter(courses__location_id__in=mine).values("pk")
    return Patient.objects.filter(Q(preferred_location_id__in=mine) | Q(pk__in=with_course_here))


def patient_likely_duplicates(*, first_name: str, last_name: str, date_of_birth: date, email: str = "",
                              exclude_pk: int | None = None) -> QuerySet[Patient]:
    """Patients (archived too) who may be this one: the same name and date of birth, or the same email,
    both regardless of case and surrounding spaces."""
    same = Q(first_name__iexact=first_name.strip(), last_name__iexact=last_name.strip(), date_of_birth=date_of_birth)
    if email.strip():
        same |= Q(email__iexact=email.strip())
    return Patient.objects.filter(same).exclude(pk=exclude_pk).order_by("last_name", "first_name", "pk")


def screenings_visible_to(*, user) -> QuerySet[Screening]:
    if staff_role(user) == StaffRole.MANAGER:
        return Screening.objects.all()
    return Screening.objects.filter(patient__in=patients_visible_to(user=user))


def patient_list(*, search: str = "", include_archived: bool = False) -> QuerySet[Patient]:
    patients = Patient.objects.select_related("preferred_location")
    if not include_archived:
        patients = patients.filter(archived_at__isnull=True)
    return patients.filter(patient_matching(search))


def patient_matching(search: str) -> Q:
    """Every word of ``search`` starts a name or the email, is part of the phone number, or is the
    date of birth (each column has a trigram index: migrations patients 0003 and 0006).

    A search of only a phone number's characters ('07700 900 123', '+44 (0)7700-900123') is one number
    in any spacing: its digits are looked for among the phone's digits, also without the leading 0
    of a national number (07700 900123 finds +44 7700 900123)."""
    text = search.strip()
    digits = re.sub(r"[^0-9]", "", text)
    if PHONE_TYPED.fullmatch(text) and len(digits) >= PHONE_DIGITS_MIN and _as_date(text) is None:
        return _phone_containing(digits)
    matching = Q()
    for word in search.split():
        condition = Q(first_name__istartswith=word) | Q(last_name__istartswith=word) | Q(email__istartswith=word)
        word_digits = re.sub(r"[^0-9]", "", word)
        if word_digits and PHONE_TYPED.fullmatch(word):
            condition |= _phone_containing(word_digits)
        day = _as_date(word)
        if day is not None:
            condition |= Q(date_of_birth=day)
        matching &= condition
    return matching


def _phone_containing(digits: str) -> Q:
    condition = Q(Contains(PhoneDigits("phone"), digits))
    national = digits.lstrip("0")
    if national != digits and len(national) >= PHONE_DIGITS_MIN:
        condition |= Q(Contains(PhoneDigits("phone"), national))
    return condition


def patient_search(*, user, query: str, include_archived: bool = False) -> QuerySet[Patient]:
    """The patients the user may see (``patients_visible_to``) that match ``query`` (``patient_matching``):
    the global search of every admin page, in SEARCH_ORDER, nothing for an empty query."""
    if not query.strip():
        return Patient.objects.none()
    found = patients_visible_to(user=user).filter(patient_matching(query))
    if not include_archived:
        found = found.filter(archived_at__isnull=True)
    return found.select_related("preferred_location").order_by(*SEARCH_ORDER)


def _as_date(text: str) -> date | None:
    """A date of birth typed as 2001-04-23 or 23/04/2001."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def screening_current(*, patient: Patient) -> Screening | None:
    """The latest screening: it replaces every earlier one."""
    return patient.screenings.order_by("-recorded_at", "-id").first()


def patient_of(obj) -> Patient | None:
    """The patient a record is about: the patient, or the one a screening, course, session... belongs to."""
    if isinstance(obj, Patient):
        return obj
    if getattr(obj, "patient_id", None) is not None:
        return obj.patient
    appointment = getattr(obj, "appointment", None)
    return appointment.patient if appointment is not None else None
