"""Deterministic bench data, loaded with COPY into a database of its own.

    python -m bench.seed --locations 5 --patients 50000 --appointments 1000000 --seed 1

Each location opens Monday to Saturday 08:00-20:00 with its rooms, devices and clinicians (made
through the services). Treatment runs in *lanes*: a room at one of 14 fixed 50-minute blocks a
day on Mon/Wed/Fri or Tue/Thu/Sat, with one clinician and one device. A lane holds initial
courses back to back (6-10 sessions of 30-45 minutes, three a week, with short gaps between
courses); the last block of the day is kept for maintenance courses (2-4 sessions two weeks
apart, for about a quarter of the completed courses). A block is longer than the longest session
plus the turnover, and each block's lanes use distinct clinicians, rooms and devices, so no two
active sessions overlap. Sessions before now are fulfilled (with a session record), no-shows or
cancellations in plausible shares; later ones are booked, up to the booking horizon. The history
reaches back as far as the number of appointments asks. The exclusion constraints are dropped for
the load and added back afterwards, which makes PostgreSQL check every row against them.
"""

from __future__ import annotations

import argparse
import io
import random
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bench import DEFAULT_DATABASE, use_database

BLOCK_MINUTES = 50
BLOCKS_PER_DAY = 14  # 08:00 + 13 * 50 min = 18:50, ending by 19:35
MAINTENANCE_BLOCK = BLOCKS_PER_DAY - 1
OPENS, CLOSES = time(8), time(20)
PATTERNS = ((0, 2, 4), (1, 3, 5))  # Mon/Wed/Fri, Tue/Thu/Sat
FILL = 0.93  # share of lane-days holding a session (gaps between courses make up the rest)
FIRST_NAMES = ["Alex", "Sam", "Jo", "Chris", "Robin", "Kim", "Lee", "Pat", "Charlie", "Morgan", "Noor", "Ana"]
LAST_NAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Khan", "Patel", "Murphy",
              "Walker", "Hughes", "Clarke", "Hall", "Wood", "Green"]


@dataclass
class Lane:
    location: int  # index
    room: int
    block: int
    pattern: int
    clinician: int
    device: int


@dataclass
class PlannedCourse:
    location: int
    lane: Lane
    days: list[date]
    planned: int
    minutes: int
    medicated: bool
    maintenance_of: PlannedCourse | None = None
    patient: int = 0
    id: int = 0
    follow_ups: list[PlannedCourse] = field(default_factory=list)


def _lanes(location: int, rooms: int, clinicians: int, devices: int) -> list[Lane]:
    parallel = min(rooms, clinicians, devices)
    clinician_groups = max(1, clinicians // parallel)
    device_groups = max(1, devices // parallel)
    return [
        Lane(location=location, room=room, block=block, pattern=pattern,
             clinician=(room + parallel * (block % clinician_groups)) % clinicians,
             device=(room + parallel * (block % device_groups)) % devices)
        for room in range(parallel) for block in range(BLOCKS_PER_DAY) for pattern in range(len(PATTERNS))
    ]


def _lane_days(pattern: int, start: date, end: date) -> list[date]:
    days, day = [], start
    while day < end:
        if day.weekday() in PATTERNS[pattern]:
            days.append(day)
        day += timedelta(days=1)
    return days


def plan_courses(*, rng: random.Random, locations: int, appointments: int, rooms: int, clinicians: int,
                 devices: int, today: date, horizon_weeks: int) -> list[PlannedCourse]:
    """Every course with its session days, oldest first, trimmed to exactly ``appointments`` sessions."""
    end = today + timedelta(weeks=horizon_weeks)
    treatment_lanes = [lane for loc in range(locations) for lane in _lanes(loc, rooms, clinicians, devices)
                       if lane.block != MAINTENANCE_BLOCK]
    per_week = len(treatment_lanes) * 3 * FILL
    weeks = int(appointments / per_week) + 3  # a little more than needed: the oldest history is trimmed
    start = end - timedelta(weeks=weeks)
    start -= timedelta(days=start.weekday())
    courses: list[PlannedCourse] = []
    for lane in treatment_lanes:
        days = _lane_days(lane.pattern, start, end)
        index = rng.randrange(0, 10)
        while index < len(days):
            planned = rng.randint(6, 10)
            medicated = rng.random() < 0.1
            # A medicated course runs 6 sessions over two weeks; the course past the horizon is booked in part.
            planned = 6 if medicated else planned
            courses.append(PlannedCourse(location=lane.location, lane=lane, days=days[index:index + planned],
                                         planned=planned, minutes=rng.choice((30, 30, 30, 40, 45)),
                                         medicated=medicated))
            index += planned + rng.choice((0, 0, 0, 0, 1, 1, 2))
    courses.sort(key=lambda course: (course.days[0], course.location, course.lane.room, course.lane.block))
    _add_maintenance(rng, courses, locations, rooms, clinicians, devices, today, end)
    courses.sort(key=lambda course: (course.days[0], course.location, course.lane.room, course.lane.block))
    excess = sum(len(course.days) for course in courses) - appointments
    if excess < 0:
        raise SystemExit(f"Planned {appointments + excess} appointments, fewer than {appointments}.")
    for course in courses:  # the oldest history goes first; a course a maintenance course follows stays
        if excess == 0:
            break
        take = min(excess, len(course.days) - (1 if course.follow_ups else 0))
        del course.days[:take]
        excess -= take
    courses = [course for course in courses if course.days]
    return courses


def _add_maintenance(rng, courses, locations, rooms, clinicians, devices, today, end) -> None:
    lanes = {(lane.location, lane.room, lane.pattern): lane
             for loc in range(locations) for lane in _lanes(loc, rooms, clinicians, devices)
             if lane.block == MAINTENANCE_BLOCK}
    taken: set[tuple[int, int, date]] = set()
    new = []
    for course in courses:
        if course.medicated or len(course.days) < course.planned or course.days[-1] >= today:
            continue
        if rng.random() >= 0.25:
            continue
        lane = lanes.get((course.location, course.lane.room, course.lane.pattern))
        if lane is None:
            continue
        sessions = rng.randint(2, 4)
        first = course.days[-1] + timedelta(weeks=2)
        for shift in range(0, 21, 7):
            days = [first + timedelta(days=shift + 14 * n) for n in range(sessions)]
            if days[-1] < end and not any((lane.location, lane.room, day) in taken for day in days):
                taken.update((lane.location, lane.room, day) for day in days)
                follow = PlannedCourse(location=course.location, lane=lane, days=days, planned=sessions,
                                       minutes=course.minutes, medicated=False, maintenance_of=course)
                course.follow_ups.append(follow)
                new.append(follow)
                break
    courses.extend(new)


class Rows:
    """Tab-separated rows for COPY, sent in chunks."""

    def __init__(self, cursor, table: str, columns: list[str]):
        self.cursor, self.table, self.columns = cursor, table, columns
        self.buffer = io.StringIO()
        self.count = 0

    def add(self, *values) -> None:
        self.buffer.write("\t".join("\\N" if v is None else str(v) for v in values))
        self.buffer.write("\n")
        self.count += 1
        if self.count % 200_000 == 0:
            self.flush()

    def flush(self) -> None:
        self.buffer.seek(0)
        self.cursor.copy_expert(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN", self.buffer)
        self.buffer = io.StringIO()


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


def _check_columns(model, expected: list[str]) -> None:
    if _columns(model) != expected:
        raise SystemExit(f"{model._meta.db_table} changed ({_columns(model)}); update bench/seed.py.")


def seed(*, database: str, locations: int, patients: int, appointments: int, seed_value: int, rooms: int,
         clinicians: int, devices: int, today: date | None) -> None:
    started = clock.monotonic()
    use_database(database, recreate=True)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from clinic import services as clinic_services
    from clinic.models import StaffRole
    from patients.models import Patient, Screening
    from scheduling.models import Appointment, Course, SessionRecord, SessionSite
    from scheduling.records.outcome import course_outcomes_write
    from scheduling.reports.usage import usage_weeks_count

    call_command("migrate", verbosity=0)
    print(f"migrated {database} in {clock.monotonic() - started:.1f} s", flush=True)
    rng = random.Random(seed_value)
    now = timezone.now()
    today = today or now.date()
    admin = get_user_model().objects.create_superuser(username="bench-admin", email="bench@example.org",
                                                      password=None)
    made = []
    for loc in range(locations):
        location = clinic_services.location_create(
            name=f"Bench clinic {loc + 1}", address=f"{loc + 1} Bench Street\nTesttown", phone="+44 20 7946 0000",
            time_zone="Europe/London", created_by=admin)
        for weekday in range(6):
            clinic_services.opening_hours_add(location=location, weekday=weekday, opens_at=OPENS, closes_at=CLOSES,
                                              created_by=admin)
        made.append({
            "location": location,
            "rooms": [clinic_services.room_create(location=location, name=f"Room {i + 1}", created_by=admin)
                      for i in range(rooms)],
            "devices": [clinic_services.device_create(location=location, model="Hidrex DVP 50",
                                                      serial_number=f"BX-{loc + 1}-{i + 1}", created_by=admin)
                        for i in range(devices)],
            "clinicians": [clinic_services.staff_create(
                username=f"bench-c{loc + 1}-{i + 1}", first_name="Clinician", last_name=f"{loc + 1}-{i + 1:02d}",
                role=StaffRole.CLINICIAN, locations=[location], created_by=admin) for i in range(clinicians)],
            "front_desk": clinic_services.staff_create(
                username=f"bench-f{loc + 1}", first_name="Front", last_name=f"Desk {loc + 1}",
                role=StaffRole.FRONT_DESK, locations=[location], created_by=admin),
        })
    horizon_weeks = made[0]["location"].booking_horizon_weeks
    courses = plan_courses(rng=rng, locations=locations, appointments=appointments, rooms=rooms,
                           clinicians=clinicians, devices=devices, today=today, horizon_weeks=horizon_weeks)
    print(f"planned {len(courses)} courses in {clock.monotonic() - started:.1f} s", flush=True)

    patient_columns = ["id", "created_at", "updated_at", "first_name", "last_name", "date_of_birth", "email", "phone",
                       "preferred_location_id", "email_consent", "email_consent_at", "email_failing_since",
                       "email_failure", "sms_consent", "sms_consent_at", "reminder_channel", "front_desk_notes",
                       "registered_by_id", "archived_at", "archived_by_id"]
    screening_columns = ["id", "created_at", "updated_at", "patient_id", "for_medicated", "pacemaker", "pregnancy",
                         "metal_implants", "epilepsy", "heart_disease", "open_wounds", "reduced_sensation",
                         "skin_condition", "thrombosis", "under_six", "drug_allergy", "damaged_skin",
                         "recorded_by_id", "recorded_at", "override_reason", "overridden_by_id", "overridden_at"]
    course_columns = ["id", "created_at", "updated_at", "patient_id", "location_id", "indication", "body_sites",
                      "body_site_other", "medication", "phase", "follows_id", "planned_sessions", "session_minutes",
                      "sessions_per_week", "maintenance_interval_weeks", "status", "discontinued_reason",
                      "ended_at", "created_by_id", "started_on", "outcome_judged", "outcome_responded",
                      "outcome_sessions_to_response"]
    appointment_columns = ["id", "created_at", "updated_at", "course_id", "patient_id", "location_id",
                           "clinician_id", "room_id", "device_id", "starts_at", "ends_at", "local_date", "status",
                           "cancelled_by", "cancellation_reason", "status_changed_at", "status_changed_by_id",
                           "confirmed_at", "confirmed_via", "booked_by_id", "version", "moved_by_patient_at"]
    record_columns = ["id", "created_at", "updated_at", "appointment_id", "minutes_of_current", "waveform",
                      "polarity_reversed", "medium", "dose_ma_min", "hdss", "pain_nprs", "sweat_mg_min",
                      "sweat_site", "note", "recorded_by_id"]
    site_columns = ["id", "record_id", "site", "site_other", "current_ma"]
    for model, columns in ((Patient, patient_columns), (Screening, screening_columns), (Course, course_columns),
                           (Appointment, appointment_columns), (SessionRecord, record_columns),
                           (SessionSite, site_columns)):
        _check_columns(model, columns)

    # Patients in the order their first course starts: a patient returns only after many others,
    # so their courses never overlap.
    concurrent = len({(c.location, c.lane.room, c.lane.block, c.lane.pattern) for c in courses})
    if patients < 4 * concurrent:
        raise SystemExit(f"Ask for at least {4 * concurrent} patients: {concurrent} courses run at once.")
    for rank, course in enumerate(course for course in courses if course.maintenance_of is None):
        course.patient = rank % patients + 1
    for number, course in enumerate(courses, start=1):
        course.id = number
    for course in courses:
        if course.maintenance_of is not None:
            course.patient = course.maintenance_of.patient

    zone = made[0]["location"].zone
    admin_id = admin.pk
    stamp = now.isoformat()
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # foreign keys are right by construction
        cursor.execute("SET maintenance_work_mem = '1GB'")  # the index and constraint builds sort in memory
        cursor.execute("SET synchronous_commit = off")
        table = Appointment._meta.db_table
        cursor.execute("""SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                           WHERE conrelid = %s::regclass AND contype = 'x'""", [table])
        exclusions = cursor.fetchall()
        # Indexes are built once after the load, faster than kept up row by row during it.
        loaded = [model._meta.db_table for model in (Patient, Screening, Course, Appointment, SessionRecord,
                                                     SessionSite)]
        cursor.execute("""SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)
                           AND indexname NOT IN (SELECT conname FROM pg_constraint)""", [loaded])
        indexes = cursor.fetchall()
        for name, _ in exclusions:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')

        rows = Rows(cursor, Patient._meta.db_table, patient_columns)
        screenings = Rows(cursor, Screening._meta.db_table, screening_columns)
        for pid in range(1, patients + 1):
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 55 * 365))
            rows.add(pid, stamp, stamp, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), born,
                     f"patient{pid}@example.org", f"+44 7700 {pid:06d}", made[pid % locations]["location"].pk,
                     "t", stamp, None, "", "f", None, "email", "", admin_id, None, None)
            screenings.add(pid, stamp, stamp, pid, "t", *("f" * 10), "f", "f", made[0]["clinicians"][0].user_id,
                           stamp, "", None, None)
        rows.flush()
        screenings.flush()
        print(f"{patients} patients in {clock.monotonic() - started:.1f} s", flush=True)

        course_rows = Rows(cursor, Course._meta.db_table, course_columns)
        appointment_rows = Rows(cursor, table, appointment_columns)
        record_rows = Rows(cursor, SessionRecord._meta.db_table, record_columns)
        site_rows = Rows(cursor, SessionSite._meta.db_table, site_columns)
        eight = {}
        appointment_id = record_id = 0
        for course in courses:
            place = made[course.location]
            lane = course.lane
            clinician = place["clinicians"][lane.clinician]
            room_id, device_id = place["rooms"][lane.room].pk, place["devices"][lane.device].pk
            front_desk_id = place["front_desk"].user_id
            statuses = []
            for index, day in enumerate(course.days):
                if day not in eight:
                    eight[day] = datetime.combine(day, OPENS, tzinfo=zone).astimezone(UTC)
                starts = eight[day] + timedelta(minutes=BLOCK_MINUTES * lane.block)
                ends = starts + timedelta(minutes=course.minutes)
                booked_at = min(starts - timedelta(days=3 * index + 10), now).isoformat()
                chance = rng.random()
                appointment_id += 1
                cancelled_by = reason = ""
                changed_at = changed_by = None
                if ends <= now:
                    status = "fulfilled" if chance < 0.88 else "noshow" if chance < 0.93 else "cancelled"
                    changed_at, changed_by = ends.isoformat(), clinician.user_id
                else:
                    status = "booked" if chance < 0.96 else "cancelled"
                if status == "cancelled":
                    cancelled_by, reason = rng.choice((("patient", "Unwell"), ("patient", "Travel"),
                                                       ("clinic", "Clinician away")))
                    changed_at, changed_by = booked_at, front_desk_id
                elif status == "noshow":
                    changed_by = front_desk_id
                statuses.append(status)
                appointment_rows.add(
                    appointment_id, booked_at, changed_at or booked_at, course.id, course.patient,
                    place["location"].pk, clinician.pk, room_id, device_id, starts.isoformat(), ends.isoformat(),
                    day, status, cancelled_by, reason, changed_at, changed_by, None, "", front_desk_id, 1, None)
                if status == "fulfilled":
                    record_id += 1
                    minutes = 15 if course.medicated else min(20, course.minutes)
                    if course.medicated:
                        current = rng.choice((2, 3, 4))
                        record_rows.add(record_id, changed_at, changed_at, appointment_id, minutes, "dc", "f",
                                        "drug", current * minutes, None, max(0, 7 - index), None, "", "",
                                        clinician.user_id)
                        site_rows.add(record_id, record_id, "other", "knee", current)
                    else:
                        record_rows.add(record_id, changed_at, changed_at, appointment_id, minutes, "dc",
                                        "t" if index % 2 else "f", "tap", None, max(1, 4 - index // 3), None,
                                        None, "", "", clinician.user_id)
                        site_rows.add(record_id, record_id, "palms", "", rng.choice((10, 12, 14, 15, 16, 18)))
            course_rows.add(*_course_row(course, place["location"].pk, statuses, today, eight, admin_id))
        for rows in (course_rows, appointment_rows, record_rows, site_rows):
            rows.flush()
        print(f"{appointment_rows.count} appointments, {record_rows.count} session records, {course_rows.count} "
              f"courses in {clock.monotonic() - started:.1f} s", flush=True)
        cursor.execute("SET session_replication_role = DEFAULT")
        for name, definition in exclusions:  # checks every active session against every other
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            cursor.execute(definition)
        for model in (Patient, Screening, Course, Appointment, SessionRecord, SessionSite):
            model_table = model._meta.db_table
            resync = f"SELECT setval(pg_get_serial_sequence('{model_table}', 'id'), COALESCE((SELECT MAX(id) FROM {model_table}), 1))"  # noqa: E501, S608  # model tables  # nosec B608
            cursor.execute(resync)
        cursor.execute("ANALYZE")  # before the responses' one statement: without statistics its plan is slow
        # Each ended initial course keeps its response, as course_complete and course_discontinue do.
        cursor.execute("SELECT id FROM scheduling_course WHERE status IN ('completed', 'discontinued')")
        course_outcomes_write(course_ids=[course_id for (course_id,) in cursor.fetchall()])
    raw.commit()
    print(f"constraints and indexes back, analysed: {appointments} appointments in {database} in "
          f"{clock.monotonic() - started:.1f} s", flush=True)
    # The weeks counted for the utilization and attendance reports, as the beat's hourly task keeps them.
    weeks = usage_weeks_count()
    print(f"{weeks} weeks counted in {clock.monotonic() - started:.1f} s", flush=True)


def _course_row(course: PlannedCourse, location_id: int, statuses: list[str], today: date, eight: dict,
                admin_id: int) -> tuple:
    last_day = course.days[-1]
    fulfilled = "fulfilled" in statuses
    if last_day < today and "booked" not in statuses:
        status = "completed" if fulfilled else "discontinued"
        ended = (eight[last_day] + timedelta(hours=12)).isoformat()
    else:
        status, ended = ("active" if fulfilled else "planned"), None
    created = (eight[course.days[0]] - timedelta(days=14)).isoformat()
    maintenance = course.maintenance_of is not None
    return (
        course.id, created, created, course.patient, location_id,
        "musculoskeletal" if course.medicated else "hyperhidrosis",
        "{other}" if course.medicated else "{palms}", "knee" if course.medicated else "",
        "dexamethasone sodium phosphate 4 mg/mL" if course.medicated else "",
        "maintenance" if maintenance else "initial", course.maintenance_of.id if maintenance else None,
        course.planned, course.minutes, 1 if maintenance else 3, 2, status,
        "No session attended" if status == "discontinued" else "", ended, admin_id,
        next((day for day, state in zip(course.days, statuses, strict=True) if state == "fulfilled"), None),
        None, None, None,  # the response at the end: worked out once the rows are in (course_outcomes_write)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="bench database, dropped and made anew")
    parser.add_argument("--locations", type=int, default=1)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--appointments", type=int, default=200_000)
    parser.add_argument("--rooms", type=int, default=10, help="per location")
    parser.add_argument("--clinicians", type=int, default=20, help="per location")
    parser.add_argument("--devices", type=int, default=20, help="per location")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    args = parser.parse_args()
    seed(database=args.database, locations=args.locations, patients=args.patients, appointments=args.appointments,
         seed_value=args.seed, rooms=args.rooms, clinicians=args.clinicians, devices=args.devices, today=args.today)


if __name__ == "__main__":
    main()
