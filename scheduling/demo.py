"""The demo clinic that `make run` loads: two locations, made-up people, courses in every state.

Everything is created through the services, exactly as the front desk and clinicians would.
Loading twice changes nothing: the demo is recognised by its first location's name. The sessions
are laid relative to the moment it loads: today (each location's own day) has sessions done, missed,
arrived and to come, so arrivals and no-shows can be tried at once.
"""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, time, timedelta

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
    appointment_confirm,
    appointment_enter_past,
    appointment_mark_arrived,
    appointment_mark_noshow,
)
from scheduling.checkins.models import CheckIn, CheckInPurpose
from scheduling.checkins.services import check_in_answer
from scheduling.engine.grid import week_start
from scheduling.models import CancelledBy, Indication
from scheduling.records.services import session_record_create
from scheduling.waitlist.services import waitlist_entry_create

LOGINS_FILE = settings.DATA_DIR / "demo-logins.txt"
HARBOUR, LAKESIDE = "Ionto Harbour Clinic", "Ionto Lakeside Clinic"
# Every member of the demo's staff, each with a password: (username, role, locations).
LOGIN_USERS = [
    ("manager", StaffRole.MANAGER, (HARBOUR, LAKESIDE)),
    ("frontdesk", StaffRole.FRONT_DESK, (HARBOUR,)),
    ("frontdesk2", StaffRole.FRONT_DESK, (LAKESIDE,)),
    ("clinician", StaffRole.CLINICIAN, (HARBOUR,)),
    ("clinician2", StaffRole.CLINICIAN, (HARBOUR,)),
    ("clinician3", StaffRole.CLINICIAN, (LAKESIDE,)),
    ("clinician4", StaffRole.CLINICIAN, (LAKESIDE,)),
]
NAMES = {"manager": ("Morgan", "Reid"), "frontdesk": ("Fran", "Dale"), "frontdesk2": ("Lee", "Park"),
         "clinician": ("Priya", "Shah"), "clinician2": ("Tom", "Hughes"), "clinician3": ("Ines", "Duarte"),
         "clinician4": ("Sam", "Okoro")}
# Open every day, so the day `make run` starts on always has sessions to try.
OPENS, CLOSES = time(7), time(21)
TODAY_GAP = timedelta(minutes=45)  # a 30-minute session, turnover and a margin, per clinician and room
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
    for username, _role, _where in LOGIN_USERS:
        passwords.setdefault(username, secrets.token_urlsafe(12))
    LOGINS_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOGINS_FILE.write_text("".join(f"{u} {p}\n" for u, p in passwords.items()))
    LOGINS_FILE.chmod(0o600)
    return passwords


@transaction.atomic
def demo_load() -> list[tuple[str, str, str]]:
    """Create the demo clinic once; return the demo logins (username, password, role, locations)."""
    passwords = _demo_passwords()
    logins = [(username, passwords[username], role.label, " and ".join(where))
              for username, role, where in LOGIN_USERS]
    if Location.objects.filter(name=HARBOUR).exists():
        return logins
    _DemoClinic(passwords).build()
    return logins


class _DemoClinic:
    def __init__(self, passwords: dict[str, str]):
        self.passwords = passwords
        self.random = random.Random(2026)  # noqa: S311 - made-up demo data, not security
        self.now = timezone.now()

    def build(self) -> None:
        locations = {
            HARBOUR: self._location(HARBOUR, "12 Quay Street\nBristol BS1 4DJ", "+44 117 496 0000",
                                    "Europe/London", rooms=3),
            LAKESIDE: self._location(LAKESIDE, "480 Shore Road\nToronto ON M5J 2N1", "+1 416 555 0100",
                                     "America/Toronto", rooms=2),
        }
        staff = {username: self._person(username, role, [locations[name] for name in where])
                 for username, role, where in LOGIN_USERS}
        self.manager = staff["manager"]
        teams = {
            locations[HARBOUR]: ([staff["clinician"], staff["clinician2"]], staff["frontdesk"]),
            locations[LAKESIDE]: ([staff["clinician3"], staff["clinician4"]], staff["frontdesk2"]),
        }
        number = 0
        for location, (clinicians, desk) in teams.items():
            rooms = list(location.rooms.all())
            devices = list(location.devices.all())
            for slot in range(20):
                team = slot % 2
                self._patient_story(number, location, clinicians[team], rooms[team], devices[team], hour=8 + slot // 2)
                number += 1
            number = self._this_week(number, location, clinicians, rooms, devices, desk)

    def _location(self, name, address, phone, zone, rooms) -> Location:
        location = clinic_services.location_create(name=name, address=address, phone=phone, time_zone=zone)
        for weekday in range(7):
            clinic_services.opening_hours_add(location=location, weekday=weekday, opens_at=OPENS, closes_at=CLOSES)
        for i in range(rooms):
            clinic_services.room_create(location=location, name=f"Room {i + 1}")
            clinic_services.device_create(location=location, model="Hidrex DVP 50" if i % 2 == 0 else "Dermadry Total",
                                          serial_number=f"DEMO-{location.pk}-{i + 1}")
        return location

    def _person(self, username, role, locations):
        first, last = NAMES[username]
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

    def _patient(self, number, location, clinician, medicated=False):
        """A made-up patient, screened; same names recur, each with a date of birth of their own."""
        first, last = FIRST_NAMES[number % 20], LAST_NAMES[(number * 7) % 16]
        age = self.random.choice([15, 24, 31, 38, 45, 52, 67])
        patient = patient_services.patient_register(
            first_name=first, last_name=last,
            date_of_birth=date(timezone.localdate().year - age, 1 + number % 12, 1 + number % 27),
            email=f"{first.lower()}.{last.lower()}{number}@example.org", phone=f"+44 7700 900{number:03d}",
            preferred_location=location, email_consent=number % 7 != 0, registered_by=self.manager.user,
            different_person=True,
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
        return patient

    def _this_week(self, number, location, clinicians, rooms, devices, desk) -> int:
        """Eight patients on the location's today: four whose session has ended (done, missed, done, and
        one still booked, to mark as a no-show) and four to come (one arrived, one confirmed by phone, two
        booked, to mark arrived). Early in the morning the ended ones go to the day before; each patient not
        missed has a next session two days later when that day is still this week. Returns the next number."""
        today = location.local(self.now).date()
        slots = self._slots(location, today, clinicians, rooms, devices)
        ended = [slot for slot in slots if slot[0] + timedelta(minutes=30) <= self.now][-4:]
        if len(ended) < 4:
            earlier = self._slots(location, today - timedelta(days=1), clinicians, rooms, devices)
            ended = earlier[len(earlier) - 4 + len(ended):] + ended
        to_come = [slot for slot in slots if slot[0] >= self.now + timedelta(minutes=15)][:4]
        for state, (starts_at, clinician, room, device) in zip(
                ["fulfilled", "noshow", "fulfilled", "booked"] + ["arrived", "confirmed", "booked", "booked"],
                ended + to_come, strict=False):
            patient = self._patient(number, location, clinician)
            course = course_create(patient=patient, location=location, indication=Indication.HYPERHIDROSIS,
                                   body_sites=["palms"], planned_sessions=8, created_by=desk.user)
            book = {"course": course, "clinician": clinician, "room": room, "device": device}
            if starts_at < self.now:
                appointment = appointment_enter_past(starts_at=starts_at, entered_by=desk.user, **book)
            else:
                appointment = appointment_book(starts_at=starts_at, booked_by=desk.user, **book)
            if state == "fulfilled":
                self._record(course, appointment, clinician, 0, True, False)
            elif state == "noshow":
                appointment_mark_noshow(appointment=appointment, marked_by=desk.user)
            elif state == "arrived":
                appointment_mark_arrived(appointment=appointment, marked_by=desk.user)
            elif state == "confirmed":
                appointment_confirm(appointment=appointment, via="phone", confirmed_by=desk.user)
            later = starts_at + timedelta(days=2)
            if state != "noshow" and week_start(location.local(later).date()) == week_start(today):
                # The stories above use the weeks before and after this one only: no clash.
                appointment_book(starts_at=later, booked_by=desk.user, **book)
            number += 1
        return number

    @staticmethod
    def _slots(location, day, clinicians, rooms, devices) -> list[tuple[datetime, object, object, object]]:
        """The day's start times of two teams (a clinician with a room and a device each), in time order."""
        slots = []
        for team in range(2):
            starts_at = location.at(day, OPENS) + timedelta(minutes=20 * team)
            while location.local(starts_at + timedelta(minutes=30)).time() <= CLOSES:
                slots.append((starts_at, clinicians[team], rooms[team], devices[team]))
                starts_at += TODAY_GAP
        return sorted(slots, key=lambda slot: slot[0])

    def _patient_story(self, number, location, clinician, room, device, hour) -> None:
        medicated = number % 4 == 3
        patient = self._patient(number, location, clinician, medicated)
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

        if story == 0:  # planned: the whole course booked ahead; the patient answered the baseline check-in
            future(self._days(1, course.planned_sessions))
            baseline = CheckIn.objects.filter(course=course, purpose=CheckInPurpose.BASELINE).first()
            if baseline is not None:
                check_in_answer(check_in=baseline, score=6 + number % 3 if medicated else 3 + number % 2,
                                skin_reaction="none")
        elif story == 1:  # active: half done (one no-show), the rest booked; the last wanted earlier
            past(self._days(-2, 4))
            last = future(self._days(1, course.planned_sessions - 3))[-1]
            waitlist_entry_create(course=course, appointment=last, weekdays=[0, 1, 2, 3, 4], earliest=time(8),
                                  latest=time(18), until=last.local_date - timedelta(days=1), created_by=None)
        elif story == 2 and number % 20 == 12:  # completed; the patient reported the sweating back (HDSS 3)
            past(self._days(-6, course.planned_sessions))
            course_complete(course=course, completed_by=clinician.user)
            first = CheckIn.objects.filter(course=course, purpose=CheckInPurpose.AFTER_COURSE).order_by("due_at")[0]
            check_in_answer(check_in=first, score=3, skin_reaction="dryness")
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
