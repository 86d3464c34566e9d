"""Reads of the clinic's resources and of who may do what."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django_otp import user_has_device

from clinic.models import Clinician, Closure, Device, Location, OpeningHours, Room, Staff, StaffRole, WorkingHours

CLINICAL_ROLES = (StaffRole.CLINICIAN, StaffRole.MANAGER)

# What every request reads about its user (the API token with its user and role, the user's location ids)
# is kept in Django's shared cache, each entry stamped with the generation it was read in. Any change to
# users, staff, their locations, locations or tokens starts a new generation (clinic.services.access_changed,
# called by the signals in clinic/apps.py and api/apps.py and by token_revoke), so no request reads an entry
# of an older one: a revoked token or a moved member of staff takes effect on the next request.
# A location's set-up (its row, clinicians, rooms, devices, opening and working hours: what the slot engine
# reads on every search) is kept the same way under a generation of its own ("setup",
# clinic.services.setup_changed), which any save or delete of those rows starts anew.
ACCESS_SECONDS = 300


def access_key(name: str) -> str:
    """The cache key of ``name``: entries describe the rows of one database, and one cache may serve
    several (the bench's databases, a test database beside the development one)."""
    return f"ionto:access:{connection.settings_dict['NAME']}:{name}"


def generation_cached(generation: str, name: str, read):
    """``read()``, kept in the shared cache until ``generation`` starts anew (at most ACCESS_SECONDS)."""
    generation_key, key = access_key(generation), access_key(name)
    found = cache.get_many([generation_key, key])
    stamp, entry = found.get(generation_key), found.get(key)
    if stamp is not None and entry is not None and entry[0] == stamp:
        return entry[1]
    if stamp is None:
        cache.add(generation_key, uuid.uuid4().hex, None)
        stamp = cache.get(generation_key)
    # The generation is taken before the read: a change made meanwhile makes this entry stale at once.
    value = read()
    if value is not None:  # a miss (an unknown token) is not kept: guessing must not fill the cache
        cache.set(key, (stamp, value), ACCESS_SECONDS)
    return value


def access_cached(name: str, read):
    """``read()``, kept in the shared cache until the next change of who may see what."""
    return generation_cached("generation", name, read)


def staff_role(user) -> str | None:
    """The acting user's role; a Django superuser acts as a manager of every location."""
    if user is None or not user.is_authenticated:
        return None
    if user.is_superuser:
        return StaffRole.MANAGER
    staff = getattr(user, "staff", None)
    if staff is None or not staff.is_active:
        return None
    return staff.role


def second_step_owed(*, user) -> str | None:
    """What a signed-in user must still do before working, for the request the user came with:
    "verify" (a code from the authenticator app or a backup code), "setup" (a manager where
    IONTO_MANAGER_2FA_REQUIRED is on, without an authenticator yet), or None.

    The admin and clinician pages (clinic.two_factor), the API's sessions and its token endpoint all
    ask this. A session that passed the step carries its device: django_otp's middleware gives the
    user ``is_verified()``; a user without it (just authenticated with a password) has not passed.
    """
    if user is None or not user.is_authenticated:
        return None
    if hasattr(user, "is_verified") and user.is_verified():
        return None
    if user_has_device(user):
        return "verify"
    if settings.IONTO_MANAGER_2FA_REQUIRED and staff_role(user) == StaffRole.MANAGER:
        return "setup"
    return None


def staff_is_clinical(user) -> bool:
    """Clinicians and managers treat: they record sessions and end or extend courses; the front desk does not.

    The services refuse on it and the admin hides what it would refuse, so both read this one rule.
    """
    return staff_role(user) in CLINICAL_ROLES


# ---------------------------------------------------------------------------------------------
# Who sees which rows: the rows of the locations a user works at; a manager (or superuser) sees all.
# patients/selectors.py and scheduling/booking/selectors.py build their `*_visible_to` on these.


def locations_visible_to(*, user) -> QuerySet[Location]:
    """The locations a user works at; managers (and superusers) reach all of them (DESIGN.md, Roles)."""
    role = staff_role(user)
    if role == StaffRole.MANAGER:
        return Location.objects.all()
    if role is None:
        return Location.objects.none()
    return Location.objects.filter(staff__user=user)


def location_ids_visible_to(*, user) -> list[int]:
    """The ids of the user's locations, kept on the user object and in the shared cache (access_cached).
    Filtering on these constants, PostgreSQL plans a calendar week's join faster than with a subquery
    (bench/README.md)."""
    found = getattr(user, "_ionto_location_ids", None)
    if found is None:
        found = user._ionto_location_ids = access_cached(
            f"ionto:locations:{user.pk}", lambda: list(locations_visible_to(user=user).values_list("pk", flat=True)))
    return found


def at_visible_locations(rows: QuerySet, *, user, field: str = "location_id") -> QuerySet:
    """``rows`` whose ``field`` is one of the user's locations; a manager's are all of them."""
    rows = rows.all()
    if staff_role(user) == StaffRole.MANAGER:
        return rows
    return rows.filter(**{f"{field}__in": location_ids_visible_to(user=user)})


def rooms_visible_to(*, user) -> QuerySet[Room]:
    return at_visible_locations(Room.objects, user=user)


def devices_visible_to(*, user) -> QuerySet[Device]:
    return at_visible_locations(Device.objects, user=user)


def opening_hours_visible_to(*, user) -> QuerySet[OpeningHours]:
    return at_visible_locations(OpeningHours.objects, user=user)


def working_hours_visible_to(*, user) -> QuerySet[WorkingHours]:
    return at_visible_locations(WorkingHours.objects, user=user)


def closures_visible_to(*, user) -> QuerySet[Closure]:
    return at_visible_locations(Closure.objects, user=user)


def staff_visible_to(*, user) -> QuerySet[Staff]:
    """Staff who work at one of the user's locations; a manager sees every member of staff."""
    return _working_at_visible_locations(Staff.objects, user=user)


def clinicians_visible_to(*, user) -> QuerySet[Clinician]:
    return _working_at_visible_locations(Clinician.objects, user=user)


def _working_at_visible_locations(rows: QuerySet, *, user) -> QuerySet:
    rows = rows.all()
    if staff_role(user) == StaffRole.MANAGER:
        return rows
    works_here = Staff.locations.through.objects.filter(staff_id=OuterRef("pk"),
                                                        location_id__in=location_ids_visible_to(user=user))
    return rows.filter(Exists(works_here))


# ---------------------------------------------------------------------------------------------
# Closures


def closure_list_overlapping(*, location: Location, starts_at: datetime, ends_at: datetime) -> QuerySet[Closure]:
    return Closure.objects.filter(location=location, starts_at__lt=ends_at, ends_at__gt=starts_at).select_related(
        "room", "device", "clinician__user"
    )


def closure_closes(closure: Closure, appointment) -> bool:
    """Whether ``closure`` stops ``appointment`` (a session to book): at its location, overlapping its time,
    closing the whole location or the session's room, device or clinician (a closure names one at most)."""
    return (closure.location_id == appointment.location_id
            and closure.starts_at < appointment.ends_at and closure.ends_at > appointment.starts_at
            and closure.room_id in (None, appointment.room_id) and closure.device_id in (None, appointment.device_id)
            and closure.clinician_id in (None, appointment.clinician_id))
