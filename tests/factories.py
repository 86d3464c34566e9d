"""Test data built through the services, so no test can pass on data the product could never make."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.oath import TOTP

from clinic import services as clinic_services
from clinic.models import Device, Location, Room, Staff, StaffRole
from patients import services as patient_services
from patients.models import CONTRAINDICATIONS, MEDICATED_CONTRAINDICATIONS, Patient
from scheduling.booking.courses import course_create
from scheduling.booking.services import appointment_book
from scheduling.models import Appointment, Course, Indication

_sequence = itertools.count(1)

NO_CONTRAINDICATIONS = dict.fromkeys(CONTRAINDICATIONS, False)
NO_MEDICATED_CONTRAINDICATIONS = {**NO_CONTRAINDICATIONS, **dict.fromkeys(MEDICATED_CONTRAINDICATIONS, False)}


def code_for(device) -> str:
    """The code a user's authenticator app shows now, from the device's own key, step, start and drift."""
    device.refresh_from_db()
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token():06d}"


def superuser():
    n = next(_sequence)
    return get_user_model().objects.create_superuser(username=f"root{n}", email=f"root{n}@example.org",
                                                     password=None)


@dataclass
class Clinic:
    """A location open Monday to Saturday 08:00-20:00 with rooms, devices and staff."""

    location: Location
    rooms: list[Room]
    devices: list[Device]
    clinicians: list[Staff]
    front_desk: Staff
    manager: Staff
    admin: object = field(default=None)

    @property
    def clinician(self) -> Staff:
        return self.clinicians[0]

    @property
    def room(self) -> Room:
        return self.rooms[0]

    @property
    def device(self) -> Device:
        return self.devices[0]

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """An instant given as the location's wall-clock time."""
        return self.location.at(day, time(hour, minute))


def make_clinic(*, name: str | None = None, time_zone: str = "Europe/London", rooms: int = 2, devices: int = 2,
                clinicians: int = 2, opens: time = time(8), closes: time = time(20), **location_options) -> Clinic:
    n = next(_sequence)
    admin = superuser()
    location = clinic_services.location_create(
        name=name or f"Clinic {n}", address=f"{n} High Street\nTesttown", phone="+44 20 7946 0000",
        time_zone=time_zone, created_by=admin, **location_options,
    )
    for weekday in range(6):
        clinic_services.opening_hours_add(location=location, weekday=weekday, opens_at=opens, closes_at=closes,
                                          created_by=admin)
    made_rooms = [clinic_services.room_create(location=location, name=f"Room {i + 1}", created_by=admin)
                  for i in range(rooms)]
    made_devices = [clinic_services.device_create(location=location, model="Hidrex DVP 50",
                                                  serial_number=f"HX-{n}-{i + 1}", created_by=admin)
                    for i in range(devices)]

    def person(role: str, i: int) -> Staff:
        return clinic_services.staff_create(
            username=f"{role}{n}x{i}", first_name=role.replace("_", " ").title(), last_name=f"No{n}x{i}",
            role=role, locations=[location], email=f"{role}{n}x{i}@example.org", password="correct horse 42",
            created_by=admin,
        )

    return Clinic(
        location=location, rooms=made_rooms, devices=made_devices,
        clinicians=[person(StaffRole.CLINICIAN, i) for i in range(clinicians)],
        front_desk=person(StaffRole.FRONT_DESK, 0), manager=person(StaffRole.MANAGER, 0), admin=admin,
    )


def make_patient(clinic: Clinic, *, screened: bool = True, medicated: bool = False, date_of_birth: date | None = None,
                 email_consent: bool = True, **fields) -> Patient:
    n = next(_sequence)
    patient = patient_services.patient_register(
        first_name=fields.pop("first_name", "Alex"), last_name=fields.pop("last_name", f"Patient{n}"),
        date_of_birth=date_of_birth or date(1990, 5, 17), email=fields.pop("email", f"patient{n}@example.org"),
        phone=fields.pop("phone", f"+44 7700 9{n:05d}"), preferred_location=clinic.location,
        email_consent=email_consent, registered_by=clinic.front_desk.user, **fields,
    )
    if screened:
        patient_services.screening_record(
            patient=patient, recorded_by=clinic.clinician.user, for_medicated=medicated,
            answers=NO_MEDICATED_CONTRAINDICATIONS if medicated else NO_CONTRAINDICATIONS,
        )
    return patient


def make_course(clinic: Clinic, patient: Patient | None = None, *, medicated: bool = False, planned_sessions: int = 8,
                session_minutes: int = 30, body_sites: list[str] | None = None) -> Course:
    patient = patient or make_patient(clinic, medicated=medicated)
    return course_create(
        patient=patient, location=clinic.location,
        indication=Indication.MUSCULOSKELETAL if medicated else Indication.HYPERHIDROSIS,
        body_sites=body_sites or (["other"] if medicated else ["palms"]),
        body_site_other="left lateral epicondyle" if medicated else "",
        medication="dexamethasone sodium phosphate 4 mg/mL" if medicated else "",
        planned_sessions=planned_sessions, session_minutes=session_minutes, created_by=clinic.front_desk.user,
    )


def next_weekday(weekday: int, *, weeks_ahead: int = 1) -> date:
    """A date on the given weekday (0 = Monday) at least a week from today."""
    today = timezone.localdate()
    start = today + timedelta(days=7 * weeks_ahead)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def book(clinic: Clinic, course: Course, starts_at: datetime, *, clinician: Staff | None = None,
         room: Room | None = None, device: Device | None = None) -> Appointment:
    return appointment_book(
        course=course, clinician=clinician or clinic.clinician, room=room or clinic.room,
        device=device or clinic.device, starts_at=starts_at, booked_by=clinic.front_desk.user,
    )
