"""The demo clinic that `make run` loads: two locations, made-up people, courses in every state.

Everything is created through the services, exactly as the front desk and clinicians would.
Loading twice changes nothing: the demo is recognised by its first location's name.
"""

from __future__ import annotations

import random
import secrets
from datetime import date, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clinic import services as clinic_services
from clinic.models import Location, StaffRole
from patients import services as patient_services
from patients.models import CONTRAINDICATIONS, MEDICATED_CONTRAINDICATIONS
from scheduling.booking.courses import course_complete, course_create, course_discontinue, course_start_maintenance
from scheduling.booking.services import (
    appointment_book,
    appointment_cancel,
    appointment_enter_past,
    appointment_mark_noshow,
)
from scheduling.models import CancelledBy, Indication
from scheduling.records.services import session_record_create

LOGINS_FILE = settings.DATA_DIR / "demo-logins.txt"
LOGIN_USERS = [("manager", StaffRole.MANAGER), ("frontdesk", StaffRole.FRONT_DESK), ("clinician", StaffRole.CLINICIAN)]
FIRST_NAMES = ["Amara", "Ben", "Chloe", "Dev", "Elena", "Finn", "Grace", "Hugo", "Isla", "Jonah", "Kira", "Leo",
               "Maya", "Noah", "Olive", "Pavel", "Quinn", "Rosa", "Sami", "Tess"]
LAST_NAMES = ["Abbott", "Brennan", "Castillo", "Dunmore", "Eriksen", "Fairley", "Gallagher", "Holm", "Iqbal",
              "Jarvis", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Pritchard"]


def _demo_passwords() -> dict[str, str]:
    """Random passwords made on the first run and kept in .data/, never in the repository."""
    passwords: dict[str, str] = {}
    if LOGINS_FILE.exists():
        for line in LOGINS_FILE.read_text().splitlines():
            username, _, password = line.partition(" ")
            if username and password:
                passwords[username] = password
    for username, _role in LOGIN_USERS:
        passwords.setdefault(username, secrets.token_urlsafe(12))
    LOGINS_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOGINS_FILE.write_text("".join(f"{u} {p}\n" for u, p in passwords.items()))
    LOGINS_FILE.chmod(0o600)
    return passwords


@transaction.atomic
def demo_load() -> list[tuple[str, str, str]]:
    """Create the demo clinic once; return the demo logins (username, password, role)."""
    passwords = _demo_passwords()
    logins = [(username, passwords[username], role.label) for username, role in LOGIN_USERS]
    if Location.objects.filter(name="Ionto Harbour Clinic").exists():
        return logins
    _DemoClinic(passwords).build()
    return logins


class _DemoClinic:
    def __init__(self, passwords: dict[str, str]):
        self.passwords = passwords
        self.random = random.Random(2026)  # noqa: S311 - made-up demo data, not security
        self.now = timezone.now()

    def build(self) -> None:
        harbour = self._location("Ionto Harbour Clinic", "12 Quay Street\nBristol BS1 4DJ", "+44 117 496 0000",
                                 "Europe/London", rooms=3)
        lakeside = self._location("Ionto Lakeside Clinic", "480 Shore Road\nToronto ON M5J 2N1", "+1 416 555 0100",
                                  "America/Toronto", rooms=2)
        self.manager = self._person("manager", "Morgan", "Reid", StaffRole.MANAGER, [harbour, lakeside])
        self._person("frontdesk", "Fran", "Dale", StaffRole.FRONT_DESK, [harbour])
        self._person("frontdesk2", "Lee", "Park", StaffRole.FRONT_DESK, [lakeside])
        teams = {
            harbour: [self._person("clinician", "Priya", "Shah", StaffRole.CLINICIAN, [harbour]),
                      self._person("clinician2", "Tom", "Hughes", StaffRole.CLINICIAN, [harbour])],
            lakeside: [self._person("clinician3", "Ines", "Duarte", StaffRole.CLINICIAN, [lakeside]),
                       self._person("clinician4", "Sam", "Okoro", StaffRole.CLINICIAN, [lakeside])],
        }
        number = 0
        for location, clinicians in teams.items():
            rooms = list(location.rooms.all())
            devices = list(location.devices.all())
            for slot in range(20):
                team = slot % 2
                self._patient_story(number, location, clinicians[team], rooms[team], devices[team], hour=8 + slot // 2)
                number += 1

    def _location(self, name, address, phone, zone, rooms) -> Location:
        location = clinic_services.location_create(name=name, address=address, phone=phone, time_zone=zone)
        for weekday in range(5):
            clinic_services.opening_hours_add(location=location, weekday=weekday, opens_at=time(8), closes_at=time(19))
        clinic_services.opening_hours_add(location=location, weekday=5, opens_at=time(9), closes_at=time(13))
        for i in range(rooms):
            clinic_services.room_create(location=location, name=f"Room {i + 1}")
            clinic_services.device_create(location=location, model="Hidrex DVP 50" if i % 2 == 0 else "Dermadry Total",
                                          serial_number=f"DEMO-{location.pk}-{i + 1}")
        return location

    def _person(self, username, first, last, role, locations):
        return clinic_services.staff_create(
            username=username, first_name=first, last_name=last, role=role, locations=locations,
            email=f"{username}@ionto.localhost", password=self.passwords.get(username),
        )

    def _days(self, weeks_from_now: int, count: int) -> list[date]:
        """Mondays, Wednesdays and Fridays from the week `weeks_from_now` away (negative: past)."""
        monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday()) + timedelta(weeks=weeks_from_now)
        days = []
        while len(days) < count:
            days.extend(monday + timedelta(days=offset) for offset in (0, 2, 4))
            monday += timedelta(weeks=1)
        return days[:count]

    def _patient_story(self, number, location, clinician, room, device, hour) -> None:
        medicated = number % 4 == 3
        first, last = FIRST_NAMES[number % 20], LAST_NAMES[(number * 7) % 16]
        age = self.random.choice([15, 24, 31, 38, 45, 52, 67])
        patient = patient_services.patient_register(
            first_name=first, last_name=last,
            date_of_birth=date(timezone.localdate().year - age, 1 + number % 12, 1 + number % 27),
            email=f"{first.lower()}.{last.lower()}{number}@example.org", phone=f"+44 7700 900{number:03d}",
            preferred_location=location, email_consent=number % 7 != 0, registered_by=self.manager.user,
        )
        answers = dict.fromkeys(CONTRAINDICATIONS, False)
        if medicated:
            answers.update(dict.fromkeys(MEDICATED_CONTRAINDICATIONS, False))
        override = ""
        if number % 9 == 4:
            answers["metal_implants"] = True
            override = "Dental implants only, far from the current path."
        patient_services.screening_record(patient=patient, recorded_by=clinician.user, answers=answers,
                                          for_medicated=medicated, override_reason=override)
        course = course_create(
            patient=patient, location=location,
            indication=Indication.MUSCULOSKELETAL if medicated else Indication.HYPERHIDROSIS,
            body_sites=["other"] if medicated else [["palms"], ["soles"], ["axillae"], ["palms", "soles"]][number % 4],
            body_site_other="right Achilles tendon" if medicated else "",
            medication="dexamethasone sodium phosphate 4 mg/mL" if medicated else "",
            planned_sessions=6 if medicated else 8, session_minutes=30 if medicated else 35,
            created_by=self.manager.user,
        )
        story = number % 5
        responder = number % 3 != 0
        at = location.at

        def past(days):
            for i, day in enumerate(days):
                appointment = appointment_enter_past(
                    course=course, clinician=clinician, room=room, device=device, starts_at=at(day, time(hour)),
                    entered_by=self.manager.user,
                )
                if story == 1 and i == 1:
                    appointment_mark_noshow(appointment=appointment, marked_by=self.manager.user)
                    continue
                self._record(course, appointment, clinician, i, responder, medicated)

        def future(days):
            booked = []
            for day in days:
                booked.append(appointment_book(course=course, clinician=clinician, room=room, device=device,
                                               starts_at=at(day, time(hour)), booked_by=self.manager.user))
            return booked

        if story == 0:  # planned: the whole course booked ahead
            future(self._days(1, course.planned_sessions))
        elif story == 1:  # active: half done (one no-show), the rest booked
            past(self._days(-2, 4))
            future(self._days(1, course.planned_sessions - 3))
        elif story == 2:  # completed, then maintenance every 2 weeks
            past(self._days(-6, course.planned_sessions))
            course_complete(course=course, completed_by=clinician.user)
            maintenance = course_start_maintenance(course=course, created_by=clinician.user)
            appointment_book(course=maintenance, clinician=clinician, room=room, device=device,
                             starts_at=at(self._days(1, 1)[0], time(hour)), booked_by=self.manager.user)
        elif story == 3:  # discontinued after two sessions
            past(self._days(-4, 2))
            course_discontinue(course=course, discontinued_by=clinician.user,
                               reason="Patient chose a home device.")
        else:  # active, one upcoming session cancelled by the patient
            past(self._days(-1, 2))
            booked = future(self._days(1, 3))
            appointment_cancel(appointment=booked[0], recorded_by=self.manager.user,
                               by=CancelledBy.PATIENT, reason="Away on holiday")

    def _record(self, course, appointment, clinician, index, responder, medicated) -> None:
        side_effects = [{"kind": "tingling", "grade": 1}]
        if index == 2 and not responder:
            side_effects.append({"kind": "blistering", "grade": 2})
        if medicated:
            current = [2, 2.5, 3][index % 3]
            session_record_create(
                appointment=appointment, recorded_by=clinician.user, minutes_of_current=20,
                sites=[{"site": "other", "site_other": course.body_site_other, "current_ma": current}],
                pain_nprs=max(1, 7 - index * (2 if responder else 0)), side_effects=side_effects,
            )
        else:
            ceiling = 14 if course.patient.age_on(appointment.local_date) < 18 else 18
            session_record_create(
                appointment=appointment, recorded_by=clinician.user, minutes_of_current=20,
                sites=[{"site": site, "current_ma": min(ceiling, 10 + index)} for site in course.body_sites],
                hdss=max(1, 4 - index // 2) if responder else 3, side_effects=side_effects,
                polarity_reversed=index % 2 == 1,
            )
