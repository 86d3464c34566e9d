"""Writes of the clinic's resources. Each takes the acting user and validates before saving."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.models import Closure, Device, Location, OpeningHours, Room, Staff, WorkingHours
from clinic.roles import group_for_role


def full_clean_and_save(instance, *, validate_constraints: bool = True):
    """Every service saves through here: the model's validators in the user's words, then the row.

    ``validate_constraints=False`` leaves the table's constraints to PostgreSQL (a service that
    checks them by its own rules first saves a query per constraint)."""
    instance.full_clean(validate_constraints=validate_constraints)
    instance.save()
    return instance


@transaction.atomic
def location_create(*, name: str, address: str, phone: str, time_zone: str, created_by=None, **options) -> Location:
    return full_clean_and_save(Location(name=name, address=address, phone=phone, time_zone=time_zone, **options))


@transaction.atomic
def room_create(*, location: Location, name: str, created_by=None) -> Room:
    return full_clean_and_save(Room(location=location, name=name))


@transaction.atomic
def device_create(*, location: Location, model: str, serial_number: str, in_service: bool = True,
                  created_by=None) -> Device:
    return full_clean_and_save(Device(location=location, model=model, serial_number=serial_number,
                                      in_service=in_service))


@transaction.atomic
def device_set_in_service(*, device: Device, in_service: bool, changed_by=None) -> Device:
    device.in_service = in_service
    return full_clean_and_save(device)


@transaction.atomic
def staff_create(
    *, username: str, first_name: str, last_name: str, role: str, locations: list[Location],
    email: str = "", password: str | None = None, created_by=None,
) -> Staff:
    """A user who works for the clinic, with their role and the locations they work at."""
    User = get_user_model()
    user = User(username=username, first_name=first_name, last_name=last_name, email=email, is_staff=True)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    full_clean_and_save(user)
    staff = full_clean_and_save(Staff(user=user, role=role))
    staff.locations.set(locations)
    user.groups.add(group_for_role(role))  # the role's admin permissions (clinic/roles.py)
    return staff


@transaction.atomic
def opening_hours_add(*, location: Location, weekday: int, opens_at: time, closes_at: time,
                      created_by=None) -> OpeningHours:
    return full_clean_and_save(OpeningHours(location=location, weekday=weekday, opens_at=opens_at, closes_at=closes_at))


@transaction.atomic
def working_hours_add(*, clinician: Staff, location: Location, weekday: int, starts_at: time, ends_at: time,
                      created_by=None) -> WorkingHours:
    return full_clean_and_save(WorkingHours(clinician=clinician, location=location, weekday=weekday,
                                            starts_at=starts_at, ends_at=ends_at))


@transaction.atomic
def closure_create(
    *, location: Location, starts_at: datetime, ends_at: datetime, reason: str,
    room: Room | None = None, device: Device | None = None, clinician: Staff | None = None, created_by=None,
) -> Closure:
    """Close the location, or one room, device or clinician, for a time. Booked sessions stay booked;
    the front desk sees them in the day schedule and moves them."""
    for resource in (room, device):
        if resource is not None and resource.location_id != location.pk:
            raise ValidationError({"location": f"{resource} is not at {location}."})
    if clinician is not None and not clinician.locations.filter(pk=location.pk).exists():
        raise ValidationError({"clinician": f"{clinician} does not work at {location}."})
    return full_clean_and_save(Closure(location=location, room=room, device=device, clinician=clinician,
                                       starts_at=starts_at, ends_at=ends_at, reason=reason))


# ---------------------------------------------------------------------------------------------
# Second factor (TOTP, RFC 6238): optional for staff, required for managers where configured.


def two_factor_setup_start(*, user):
    """An unconfirmed authenticator for the user (the one begun earlier, if any), to scan and confirm."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def two_factor_setup_confirm(*, user, device, token: str):
    """Confirm an authenticator with a code it shows; earlier authenticators of the user are removed."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
    if not device.verify_token(token.strip().replace(" ", "")):
        raise ValidationError({"token": "That code is not right; check the time on your phone and try again."})
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device
