"""Writes of the clinic's resources. Each takes the acting user and validates before saving."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp import devices_for_user, verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import Closure, Device, Location, OpeningHours, Room, Staff, WorkingHours
from clinic.roles import group_for_role
from clinic.selectors import access_key


def full_clean_and_save(instance, *, validate_constraints: bool = True):
    """Every service saves through here: the model's validators in the user's words, then the row.

    ``validate_constraints=False`` leaves the table's constraints to PostgreSQL (a service that
    checks them by its own rules first saves a query per constraint)."""
    instance.full_clean(validate_constraints=validate_constraints)
    instance.save()
    return instance


def _new_generation(generation: str) -> None:
    """The entries of ``generation`` (clinic.selectors.generation_cached) are stale from now on; again
    once the transaction commits, so a request that read the old rows meanwhile cannot keep them."""

    def new_generation() -> None:
        cache.set(access_key(generation), uuid.uuid4().hex, None)

    new_generation()
    transaction.on_commit(new_generation)


def access_changed() -> None:
    """Who may see what changed (a user, staff, their locations, a location, a token): the entries of
    clinic.selectors.access_cached are stale from now on."""
    _new_generation("generation")


def setup_changed() -> None:
    """A location, its clinicians, rooms, devices, opening or working hours changed: the slot engine's
    cached set-up (scheduling.engine.setup) is stale from now on."""
    _new_generation("setup")


@transaction.atomic
def location_create(*, name: str, address: str, phone: str, time_zone: str, created_by=None, **options) -> Location:
    return full_clean_and_save(Location(name=name, address=address, phone=phone, time_zone=time_zone, **options))


# What a location lets patients do between visits, changeable after it is set up (the rest of a location is not).
PATIENT_OPTIONS = ("patients_may_change_clinician", "waitlist_offer_minutes", "check_in_weeks_after_course",
                   "check_in_every_weeks")


@transaction.atomic
def location_set_patient_options(*, location: Location, changed_by=None, **options) -> Location:
    """Change what the location lets patients do on their own pages: choose another clinician when they move a
    session (``scheduling.selfservice``), how long a waitlist offer runs, when check-ins go out."""
    unknown = set(options) - set(PATIENT_OPTIONS)
    if unknown:
        raise ValidationError(f"Not a patient option of a location: {', '.join(sorted(unknown))}.")
    location = Location.objects.select_for_update().get(pk=location.pk)
    for name, value in options.items():
        setattr(location, name, value)
    return full_clean_and_save(location)


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
# Second factor (TOTP, RFC 6238, and single-use backup codes): django_otp checks every code; these
# functions decide when a code is needed. Each change of a user's devices, and each backup code
# used, goes to the admin's own action log (LogEntry), where Django records staff-side changes: the
# patients' audit trail holds events about a patient only.

BACKUP_CODE_COUNT = 10
WRONG_CODE = "That code is not right; check the time on your phone and try again."
CURRENT_CODE_NEEDED = ("Enter a code from your present authenticator app, or a backup code: "
                       "a password alone does not change the second sign-in step.")
NO_AUTHENTICATOR = "Set up an authenticator app first."


def _two_factor_log(*, user, devices, action_flag: int, message: str) -> None:
    LogEntry.objects.log_actions(user_id=user.pk, queryset=devices, action_flag=action_flag, change_message=message)


def _plain_code(code: str | None) -> str:
    return (code or "").strip().replace(" ", "").lower()


def two_factor_verify(*, user, code: str):
    """The user's device that accepts ``code``, or None: six digits go to the authenticator app, anything
    else to the backup codes (so a backup code never counts as a failure of the app). django_otp refuses
    a code used before, uses a backup code up, and slows the next try after each failure."""
    code = _plain_code(code)
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    device = model.objects.devices_for_user(user, confirmed=True).first()
    if device is None or not code:
        return None
    verified = verify_token(user, device.persistent_id, code)
    if verified is not None and model is StaticDevice:
        _two_factor_log(user=user, devices=[verified], action_flag=CHANGE,
                        message=f"Used a backup code; {verified.token_set.count()} left.")
    return verified


def two_factor_sign_in_verify(*, request, user, code: str):
    """The second sign-in step: the device that accepts the code, or None. A wrong code counts as a failed
    sign-in (django-axes), as a wrong password does, so guessing codes locks the account and the address."""
    device = two_factor_verify(user=user, code=code)
    if device is None:
        user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)
    return device


def two_factor_setup_start(*, user) -> TOTPDevice:
    """An unconfirmed authenticator for the user (the one begun earlier, if any), to scan and confirm."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def two_factor_setup_confirm(*, user, device: TOTPDevice, token: str, current_code: str = "") -> TOTPDevice:
    """Confirm an authenticator with a code it shows; it replaces the user's earlier one.

    Replacing takes a current code (of the earlier app, or a backup code), checked after the new
    app's code so a mistyped new code does not use up a backup code. Neither check is rolled back on
    a refusal: django_otp's count of failures must stay, or the current code could be guessed here.
    """
    device = TOTPDevice.objects.get(pk=device.pk, user=user, confirmed=False)
    if verify_token(user, device.persistent_id, _plain_code(token)) is None:
        raise ValidationError({"token": WRONG_CODE})
    earlier = list(TOTPDevice.objects.devices_for_user(user, confirmed=True))
    if earlier and two_factor_verify(user=user, code=current_code) is None:
        raise ValidationError({"current_code": CURRENT_CODE_NEEDED})
    with transaction.atomic():
        if earlier:
            _two_factor_log(user=user, devices=earlier, action_flag=DELETION, message="Authenticator app replaced.")
            TOTPDevice.objects.filter(pk__in=[old.pk for old in earlier]).delete()
        TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        _two_factor_log(user=user, devices=[device], action_flag=ADDITION, message="Authenticator app added.")
    return device


def two_factor_remove(*, user, current_code: str) -> None:
    """Remove the user's authenticator and backup codes; like a replacement, it takes a current code."""
    if two_factor_verify(user=user, code=current_code) is None:
        raise ValidationError({"current_code": CURRENT_CODE_NEEDED})
    with transaction.atomic():
        devices = list(devices_for_user(user, confirmed=None))
        _two_factor_log(user=user, devices=devices, action_flag=DELETION, message="Second sign-in step removed.")
        for device in devices:
            device.delete()


def two_factor_backup_codes_make(*, user, current_code: str) -> list[str]:
    """Ten new single-use backup codes for a user with an authenticator, for when the phone is lost;
    the earlier ones stop working. Shown once: nothing in Ionto shows them again."""
    if not TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        raise ValidationError({"current_code": NO_AUTHENTICATOR})
    if two_factor_verify(user=user, code=current_code) is None:
        raise ValidationError({"current_code": CURRENT_CODE_NEEDED})
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Backup codes")
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
        _two_factor_log(user=user, devices=[device], action_flag=CHANGE,
                        message=f"Made {BACKUP_CODE_COUNT} new backup codes; earlier ones no longer work.")
    return codes
