"""Reminder throughput against a relay with real latency: 10,000 due reminders through the beat's
claim and the Procfile's `sender` (a Celery worker with a thread pool on the send queue, one SMTP
connection per thread) into a local aiosmtpd server that waits 50 ms before each answer, as a relay
across a network does. Goal: all delivered, each exactly once, within 5 minutes.

    python -m bench.reminders                    # 10,000 reminders on the configured broker
    python -m bench.reminders --count 2000 --reply-delay 0.05
    CELERY_BROKER_URL=redis://127.0.0.1:6379/15 python -m bench.reminders

It works in a database of its own (``ionto_bench_reminders_<random>``, dropped at the end, so two
runs at once never meet), checks that every reminder arrived exactly once (by Message-ID), and
prints the time, messages per second and the CPU each process used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE_PREFIX = "ionto_bench_reminders_"
GOAL_SECONDS = 300
MARKER = "BENCH-JSON "


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_django(queue: str, name: str) -> dict:
    """Django on a fresh bench database ``name``; returns its connection settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ["CELERY_QUEUE"] = queue
    if not os.environ.get("DATABASE_URL"):
        from devtools import embedded

        embedded.ensure_running()
    import django

    django.setup()
    from django.db import connections

    db = connections["default"].settings_dict
    server_database("postgres", db, f'CREATE DATABASE "{name}"')
    connections["default"].close()
    db["NAME"] = name
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return db


def server_database(maintenance: str, db: dict, statement: str) -> None:
    import psycopg2

    server = psycopg2.connect(dbname=maintenance, user=db["USER"], password=db["PASSWORD"],
                              host=db["HOST"] or None, port=db["PORT"] or None)
    try:
        server.autocommit = True
        with server.cursor() as cursor:
            cursor.execute(statement)
    finally:
        server.close()


def database_url(db: dict) -> str:
    if not db["HOST"] or db["HOST"].startswith("/"):
        return f"postgresql://{db['USER']}@/{db['NAME']}" + (f"?host={db['HOST']}" if db["HOST"] else "")
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def make_due_reminders(count: int) -> None:
    """``count`` patients with one booked session each, its reminder due now.

    The clinic comes from the services; the patients, courses, sessions and reminder rows are
    inserted in bulk (booking 10,000 sessions one by one would measure booking, not sending),
    laid out so no two sessions share a clinician, room, device or patient at a time, and
    PostgreSQL's exclusion constraints check every row.
    """
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from clinic import services as clinic_services
    from clinic.models import StaffRole
    from patients.models import Patient
    from scheduling.models import Appointment, Course, Indication, Notification, NotificationKind

    lanes = 20
    admin = get_user_model().objects.create_superuser(username="bench", email="bench@example.org", password=None)
    location = clinic_services.location_create(name="Bench Clinic", address="1 Bench Road\nTesttown",
                                               phone="+44 20 7946 0999", time_zone="Europe/London",
                                               created_by=admin)
    rooms = [clinic_services.room_create(location=location, name=f"Room {i}", created_by=admin) for i in range(lanes)]
    devices = [clinic_services.device_create(location=location, model="Hidrex DVP 50", serial_number=f"B-{i}",
                                             created_by=admin) for i in range(lanes)]
    clinicians = [clinic_services.staff_create(username=f"clinician{i}", first_name="Bench", last_name=f"C{i}",
                                               role=StaffRole.CLINICIAN, locations=[location],
                                               email=f"c{i}@example.org",
                                               created_by=admin) for i in range(lanes)]
    patients = Patient.objects.bulk_create([
        Patient(first_name="Sam", last_name=f"Bench{i:05d}", date_of_birth=date(1990, 1, 1),
                email=f"patient{i:05d}@example.org", email_consent=True, email_consent_at=timezone.now(),
                preferred_location=location, registered_by=admin)
        for i in range(count)], batch_size=2000)
    courses = Course.objects.bulk_create([
        Course(patient=patient, location=location, indication=Indication.HYPERHIDROSIS, body_sites=["palms"],
               planned_sessions=6, created_by=admin)
        for patient in patients], batch_size=2000)
    first_day = timezone.localdate() + timedelta(days=2)
    slots_a_day = 24  # 08:00-20:00, every 30 minutes
    appointments = []
    for i, (patient, course) in enumerate(zip(patients, courses, strict=True)):
        lane = i % lanes
        slot = (i // lanes) % slots_a_day
        day = first_day + timedelta(days=i // (lanes * slots_a_day))
        starts_at = location.at(day, datetime.min.time()) + timedelta(hours=8, minutes=30 * slot)
        appointments.append(Appointment(
            course=course, patient=patient, location=location, clinician=clinicians[lane], room=rooms[lane],
            device=devices[lane], starts_at=starts_at, ends_at=starts_at + timedelta(minutes=25),
            local_date=location.local(starts_at).date(), booked_by=admin))
    Appointment.objects.bulk_create(appointments, batch_size=2000)
    due = timezone.now() - timedelta(seconds=1)
    Notification.objects.bulk_create([
        Notification(kind=NotificationKind.REMINDER, patient=appointment.patient, course=appointment.course,
                     appointment=appointment, appointment_version=1, due_at=due)
        for appointment in appointments], batch_size=2000)
    # Settled as a clinic's tables are: statistics for the planner, and no autovacuum of the new rows
    # taking the cores during the measured phases.
    from django.db import connection

    with connection.cursor() as cursor:
        for model in (Patient, Course, Appointment, Notification):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def cpu_seconds(pid: int, *, children: bool) -> float | None:
    """Seconds of CPU that ``pid`` and its threads, with ``children`` also its child processes (one
    level: a worker's pool), have used so far, from the scheduler's own nanosecond count in
    /proc/<pid>/task/<tid>/schedstat. None where /proc does not show it (not Linux)."""
    parents = {}
    for name in os.listdir("/proc") if Path("/proc").is_dir() else []:
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):  # a process that ended meanwhile
                parents[int(name)] = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
    if pid not in parents:
        return None
    nanoseconds = 0
    for process in [pid, *(child for child, parent in parents.items() if children and parent == pid)]:
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            for task in os.listdir(f"/proc/{process}/task"):
                nanoseconds += int(Path(f"/proc/{process}/task/{task}/schedstat").read_text().split()[0])
    return nanoseconds / 1e9


def machine_times() -> tuple[int, int] | None:
    """(busy, all) clock ticks of every core so far, from /proc/stat; None where there is none."""
    try:
        ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # all but idle and iowait


class CpuMeter:
    """CPU per message of each process that takes part in a phase, and how busy the machine was,
    between ``start()`` and ``stop()``."""

    def __init__(self, processes: dict[str, tuple[int, bool]]):
        """``processes``: name -> (pid, count its children too)."""
        self.processes = processes
        self.used: dict[str, float | None] = {}
        self.busy: float | None = None

    def _read(self) -> dict[str, float | None]:
        return {name: cpu_seconds(pid, children=children) for name, (pid, children) in self.processes.items()}

    def start(self) -> None:
        self._started = self._read()
        self._machine = machine_times()

    def stop(self) -> None:
        ended = self._read()
        machine = machine_times()
        self.busy = None if machine is None or self._machine is None or machine[1] == self._machine[1] \
            else round((machine[0] - self._machine[0]) / (machine[1] - self._machine[1]), 3)
        self.used = {name: None if ended[name] is None or self._started[name] is None
                     else ended[name] - self._started[name] for name in ended}

    def per_message_ms(self, count: int) -> dict[str, float | None]:
        return {name: None if used is None else round(1000 * used / count, 2) for name, used in self.used.items()}


def cpu_text(meter: CpuMeter, count: int) -> str:
    parts = [f"{name} {'n/a' if ms is None else f'{ms:.2f} ms'}" for name, ms in meter.per_message_ms(count).items()]
    return ", ".join(parts) + ("" if meter.busy is None else f"; the machine's cores {meter.busy:.0%} busy")


def eml_files(folder: Path) -> list[Path]:
    return list(folder.glob("*.eml"))


def wait_for_files(folder: Path, count: int, timeout: float) -> float:
    """Wait until ``count`` messages are stored; return when the last one was (time.time()).

    The mail catcher names each file by the nanosecond it stored the message, so the end of a run is
    read off the names, and the folder is only looked at a few times a second: listing thousands of
    files at a quicker pace took a quarter of a core from the processes being measured.
    """
    deadline = time.monotonic() + timeout
    while True:
        names = [name for name in os.listdir(folder) if name.endswith(".eml")]
        if len(names) >= count:
            return max(int(name.split("-", 1)[0]) for name in names) / 1e9
        if time.monotonic() > deadline:
            sys.exit(f"only {len(names)} of {count} messages arrived in {timeout:.0f} s")
        time.sleep(0.25)


def start_mailcatcher(folder: Path, port: int, reply_delay: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "devtools.mailcatcher", "--port", str(port), "--dir",
                                str(folder), "--reply-delay", str(reply_delay)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    process.stdout.readline()  # "mail catcher: smtp://..." once it listens
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--reply-delay", type=float, default=0.05, help="seconds the SMTP server waits to answer")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    queue = f"ionto-bench-{run}"
    db = setup_django(queue, DATABASE_PREFIX + run)
    work = Path(tempfile.mkdtemp(prefix="ionto-bench-mail-"))
    try:
        measure(args, queue, db, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        from django.db import connections

        connections.close_all()
        server_database("postgres", db, f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')


def sender_command(queue: str) -> list[str]:
    """The Procfile's sender, on this run's queue, with this Python's Celery."""
    from devtools.serve import procfile_commands

    command = procfile_commands({"CELERY_QUEUE": queue})["sender"]
    assert command[0] == "celery"
    return [sys.executable, "-m", "celery", *command[1:], "--without-gossip", "--without-mingle",
            "--without-heartbeat"]


def measure(args, queue: str, db: dict, work: Path) -> None:
    from django.conf import settings

    from scheduling.models import Notification, NotificationStatus
    from scheduling.tasks import notifications_dispatch_due_task

    command = sender_command(queue)
    threads = int(command[command.index("--concurrency") + 1])
    print(f"Reminders benchmark: {args.count} due reminders, the Procfile's sender ({threads} threads), "
          f"SMTP answers after {args.reply_delay * 1000:.0f} ms, broker {settings.CELERY_BROKER_URL.split('://')[0]}, "
          f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs", flush=True)
    started = time.perf_counter()
    make_due_reminders(args.count)
    print(f"  data: {args.count} patients, sessions and due reminders in {time.perf_counter() - started:.1f} s",
          flush=True)

    port = free_port()
    mail = start_mailcatcher(work / "mail", port, args.reply_delay)
    env = dict(os.environ, DATABASE_URL=database_url(db), CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
               CELERY_QUEUE=queue, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), DJANGO_LOG_LEVEL="WARNING")
    env.pop("DATABASE_TEST_NAME", None)
    worker_log = work / "sender.log"
    worker = subprocess.Popen([*command[:command.index("--loglevel")], "--loglevel", "WARNING",
                               *command[command.index("--loglevel") + 2:]],
                              cwd=ROOT, env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT)
    try:
        # The worker is up (connected to the broker) before the clock starts: one message first.
        first = Notification.objects.order_by("pk").values_list("pk", flat=True).first()
        Notification.objects.filter(pk=first).update(due_at=datetime(2000, 1, 1, tzinfo=UTC))
        notifications_dispatch_due_task(now="2000-01-01T00:00:01+00:00")
        wait_for_files(work / "mail", 1, timeout=120)

        meter = CpuMeter({"sender": (worker.pid, True), "SMTP server": (mail.pid, False)})
        meter.start()
        started = time.time()
        queued = notifications_dispatch_due_task(now=None)
        queue_seconds = time.time() - started
        seconds = wait_for_files(work / "mail", args.count, timeout=max(900, args.count / 5)) - started
        meter.stop()
        deadline = time.monotonic() + 60
        while Notification.objects.exclude(status=NotificationStatus.SENT).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        statuses = Counter(Notification.objects.values_list("status", flat=True))
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        stop(mail)
    files = eml_files(work / "mail")
    headers = BytesHeaderParser()
    ids = Counter(headers.parsebytes(path.read_bytes())["Message-ID"] for path in files)
    once = len(ids) == args.count and set(ids.values()) == {1}
    rate = (args.count - 1) / seconds  # the warm-up message went before the clock
    print(f"  sent: {len(files)} messages in {seconds:.1f} s = {rate:.0f} msg/s "
          f"(claim {queued} rows and queue their tasks: {queue_seconds:.2f} s); "
          f"distinct Message-IDs {len(ids)}, each once: {once}; rows {dict(statuses)}", flush=True)
    print(f"  CPU per message: {cpu_text(meter, args.count - 1)}", flush=True)
    met = once and seconds <= GOAL_SECONDS * args.count / 10_000
    print(f"  goal: 10,000 in {GOAL_SECONDS} s (scaled to {args.count}); {'met' if met else 'MISSED'}", flush=True)
    print(MARKER + json.dumps({
        "benchmark": "reminders", "count": args.count, "threads": threads,
        "reply_delay_ms": round(args.reply_delay * 1000), "broker": settings.CELERY_BROKER_URL.split("://")[0],
        "seconds": round(seconds, 2), "msg_per_s": round(rate, 1), "goal_seconds_per_10000": GOAL_SECONDS,
        "all_received_once": once, "cpu_ms_per_msg": meter.per_message_ms(args.count - 1),
        "machine_busy": meter.busy,
    }), flush=True)
    if not once or statuses != Counter({NotificationStatus.SENT: args.count}):
        sys.exit("not every reminder arrived exactly once")


if __name__ == "__main__":
    main()
