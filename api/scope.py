"""The rows an acting user may see, for the API: the `*_visible_to` selectors of each app, with what
the API's answers load alongside.

Each function takes the request and answers a queryset; none runs a query until it is used (but for
the user's location ids, read once per request), so a list costs the same number of queries whatever
the number of rows.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from clinic.models import Clinician, Closure, Device, Location, OpeningHours, Room, WorkingHours
from clinic.selectors import (
    clinicians_visible_to,
    closures_visible_to,
    devices_visible_to,
    locations_visible_to,
    opening_hours_visible_to,
    rooms_visible_to,
    working_hours_visible_to,
)
from patients.models import Patient, Screening
from patients.selectors import patients_visible_to, screenings_visible_to
from scheduling.booking.selectors import (
    appointments_visible_to,
    courses_visible_to,
    notifications_visible_to,
    session_records_visible_to,
)
from scheduling.models import Appointment, Course, Notification, SessionRecord, SessionSite, SideEffect
from scheduling.waitlist.models import WaitlistEntry, WaitlistOffer
from scheduling.waitlist.selectors import waitlist_entries_visible_to, waitlist_offers_visible_to


def locations(request) -> QuerySet[Location]:
    return locations_visible_to(user=request.user)


def rooms(request) -> QuerySet[Room]:
    return rooms_visible_to(user=request.user).select_related("location")


def devices(request) -> QuerySet[Device]:
    return devices_visible_to(user=request.user).select_related("location")


def clinicians(request) -> QuerySet[Clinician]:
    return (
        clinicians_visible_to(user=request.user).filter(is_active=True)
        .select_related("user")
        .prefetch_related(Prefetch("locations", queryset=Location.objects.only("id", "name")))
    )


def opening_hours(request) -> QuerySet[OpeningHours]:
    return opening_hours_visible_to(user=request.user)


def working_hours(request) -> QuerySet[WorkingHours]:
    return working_hours_visible_to(user=request.user)


def closures(request) -> QuerySet[Closure]:
    return closures_visible_to(user=request.user)


def patients(request, *, include_archived: bool = False) -> QuerySet[Patient]:
    rows = patients_visible_to(user=request.user)
    return rows if include_archived else rows.filter(archived_at__isnull=True)


def screenings(request) -> QuerySet[Screening]:
    return screenings_visible_to(user=request.user)


def courses(request) -> QuerySet[Course]:
    return courses_visible_to(user=request.user).select_related("location")


def appointments(request) -> QuerySet[Appointment]:
    """Appointments with the related rows their answer names, each loaded with only the columns it shows:
    whole patients, users and locations for a calendar week cost more than the query itself."""
    return (
        appointments_visible_to(user=request.user)
        .select_related("location", "patient", "clinician__user", "room", "device")
        .only("course_id", "patient_id", "location_id", "clinician_id", "room_id", "device_id", "starts_at", "ends_at",
              "local_date", "status", "cancelled_by", "cancellation_reason", "confirmed_at", "confirmed_via",
              "version", "location__time_zone", "patient__first_name", "patient__last_name", "patient__date_of_birth",
              "clinician__user__first_name", "clinician__user__last_name", "clinician__user__username",
              "room__name", "device__model", "device__serial_number")
    )


def session_records_in_full(rows: QuerySet[SessionRecord] = SessionRecord.objects) -> QuerySet[SessionRecord]:
    """Session records with their sites and side effects, in the order they are shown."""
    return rows.prefetch_related(
        Prefetch("sites", queryset=SessionSite.objects.order_by("site")),
        Prefetch("side_effects", queryset=SideEffect.objects.order_by("-grade", "kind")),
    )


def appointments_clinical(request) -> QuerySet[Appointment]:
    return appointments(request).prefetch_related(Prefetch("session_record", queryset=session_records_in_full()))


def session_records(request) -> QuerySet[SessionRecord]:
    return session_records_in_full(session_records_visible_to(user=request.user)).select_related("appointment")


def notifications(request) -> QuerySet[Notification]:
    return notifications_visible_to(user=request.user)


def waitlist_entries(request) -> QuerySet[WaitlistEntry]:
    return waitlist_entries_visible_to(user=request.user)


def waitlist_offers(request) -> QuerySet[WaitlistOffer]:
    return waitlist_offers_visible_to(user=request.user).select_related("slot")


class Scope:
    """Lazy querysets for ScopedPrimaryKeyField, bound to one request."""

    def __init__(self, request):
        self.request = request

    def __getitem__(self, name: str):
        rows_of = SCOPES[name]
        return lambda: rows_of(self.request)


SCOPES = {
    "locations": locations, "rooms": rooms, "devices": devices, "clinicians": clinicians,
    "patients": patients, "courses": courses, "appointments": appointments,
}
