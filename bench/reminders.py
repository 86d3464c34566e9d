"""Reminder throughput: 10,000 due reminders through the beat's claim, a Celery worker of
concurrency 2 and Django's SMTP backend, into a local aiosmtpd server; and the floor, a plain
smtplib loop sending the same 10,000 messages to the same server over one connection, before the
worker runs and again after it (the ratio is to the mean of the two).

    python -m bench.reminders                    # 10,000 reminders on the configured broker
    python -m bench.reminders --count 2000
    CELERY_BROKER_URL=redis://127.0.0.1:6379/15 python -m bench.reminders

It works in a database of its own (``ionto_bench_reminders_<random>``, dropped at the end, so two
runs at once never meet), checks
that every reminder arrived exactly once (by Message-ID), and prints messages per second for
both and their ratio (goal: at least 0.5 of the floor).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import smtplib
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
GOAL_RATIO = 0.5
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
    try:
        parents = {int(name): int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
                   for name in os.listdir("/proc") if name.isdigit()}
    except (OSError, ValueError):
        return None
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


def start_mailcatcher(folder: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "devtools.mailcatcher", "--port", str(port), "--dir",
                                str(folder)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
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
    parser.add_argument("--concurrency", type=int, default=2)
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


def prebuilt_messages() -> list[bytes]:
    """The due reminders' messages as the worker makes them (``scheduling.reminders.emails``), for the floor
    measured before the worker runs."""
    from scheduling.models import Notification
    from scheduling.reminders.emails import email_build

    rows = Notification.objects.select_related("patient", "appointment__location").order_by("pk")
    return [email_build(notification=row, appointments=[row.appointment]).smtp_bytes() for row in rows]


def run_floor(payloads: list[bytes], folder: Path, port: int) -> tuple[float, CpuMeter]:
    """A plain smtplib loop sending ``payloads`` over one connection to a fresh mail catcher:
    (messages per second, the CPU it and the server used)."""
    mail = start_mailcatcher(folder, port)
    meter = CpuMeter({"smtplib loop": (os.getpid(), False), "SMTP server": (mail.pid, False)})
    try:
        meter.start()
        started = time.time()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i, payload in enumerate(payloads):
                smtp.sendmail("no-reply@ionto.localhost", [f"patient{i:05d}@example.org"], payload)
        meter.stop()
        seconds = wait_for_files(folder, len(payloads), timeout=600) - started
    finally:
        stop(mail)
    shutil.rmtree(folder, ignore_errors=True)
    return len(payloads) / seconds, meter


def measure(args, queue: str, db: dict, work: Path) -> None:
    from django.conf import settings

    from scheduling.models import Notification, NotificationStatus
    from scheduling.tasks import notifications_dispatch_due_task

    print(f"Reminders benchmark: {args.count} due reminders, worker concurrency {args.concurrency}, "
          f"broker {settings.CELERY_BROKER_URL.split('://')[0]}, {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} CPUs", flush=True)
    started = time.perf_counter()
    make_due_reminders(args.count)
    print(f"  data: {args.count} patients, sessions and due reminders in {time.perf_counter() - started:.1f} s",
          flush=True)

    # The floor runs before and after the worker, and the ratio is taken to their mean: on this
    # machine one floor moved by up to a quarter from the other within a run, either way, so a single
    # floor could fall in a slower or faster moment than the worker's phase had.
    port = free_port()
    prebuilt = prebuilt_messages()
    floor_before, floor_before_cpu = run_floor(prebuilt, work / "floor-before", port)
    del prebuilt
    print(f"  floor before: {args.count} messages at {floor_before:.0f} msg/s (smtplib, one connection); "
          f"CPU per message: {cpu_text(floor_before_cpu, args.count)}", flush=True)

    mail = start_mailcatcher(work / "celery", port)
    env = dict(os.environ, DATABASE_URL=database_url(db), CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
               CELERY_QUEUE=queue, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), DJANGO_LOG_LEVEL="WARNING")
    env.pop("DATABASE_TEST_NAME", None)
    worker_log = work / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "clinic", "worker", "--loglevel", "WARNING",
                               "--concurrency", str(args.concurrency), "--without-gossip", "--without-mingle",
                               "--without-heartbeat", "-n", f"{queue}@%h"],
                              cwd=ROOT, env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT)
    try:
        # The worker is warm (connected, pool forked) before the clock starts: one message first.
        first = Notification.objects.order_by("pk").values_list("pk", flat=True).first()
        Notification.objects.filter(pk=first).update(due_at=datetime(2000, 1, 1, tzinfo=UTC))
        notifications_dispatch_due_task.apply_async(kwargs={"now": "2000-01-01T00:00:01+00:00"}, queue=queue)
        wait_for_files(work / "celery", 1, timeout=120)

        celery_cpu = CpuMeter({"worker": (worker.pid, True), "SMTP server": (mail.pid, False)})
        celery_cpu.start()
        started = time.time()
        queued = notifications_dispatch_due_task(now=None)
        queue_seconds = time.time() - started
        celery_seconds = wait_for_files(work / "celery", args.count, timeout=max(600, args.count / 5)) - started
        celery_cpu.stop()
        deadline = time.monotonic() + 60
        while Notification.objects.exclude(status=NotificationStatus.SENT).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        statuses = Counter(Notification.objects.values_list("status", flat=True))
    finally:
        worker.send_signal(signal.SIGQUIT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    files = eml_files(work / "celery")
    headers = BytesHeaderParser()
    ids = Counter(headers.parsebytes(path.read_bytes())["Message-ID"] for path in files)
    once = len(ids) == args.count and set(ids.values()) == {1}
    celery_rate = (args.count - 1) / celery_seconds  # the warm-up message went before the clock
    print(f"  celery: {len(files)} messages in {celery_seconds:.2f} s = {celery_rate:.0f} msg/s "
          f"(claim {queued} rows and queue their tasks: {queue_seconds:.2f} s); "
          f"distinct Message-IDs {len(ids)}, each once: {once}; rows {dict(statuses)}", flush=True)
    print(f"          CPU per message: {cpu_text(celery_cpu, args.count - 1)}", flush=True)

    # The floor after: the same messages, as delivered, sent again by a plain smtplib loop.
    payloads = [(path.read_bytes()) for path in sorted(files)]
    stop(mail)
    shutil.rmtree(work / "celery", ignore_errors=True)
    floor_after, floor_cpu = run_floor(payloads, work / "floor-after", port)
    print(f"  floor after:  {len(payloads)} messages at {floor_after:.0f} msg/s; "
          f"CPU per message: {cpu_text(floor_cpu, len(payloads))}", flush=True)
    floor_rate = (floor_before + floor_after) / 2
    ratio = celery_rate / floor_rate
    print(f"  ratio:  {ratio:.2f} of the floor, the mean of the two, {floor_rate:.0f} msg/s (goal {GOAL_RATIO}); "
          f"{'met' if ratio >= GOAL_RATIO else 'MISSED'}; {celery_rate / floor_before:.2f} of the floor before "
          f"alone, {celery_rate / floor_after:.2f} of the floor after", flush=True)
    print(MARKER + json.dumps({
        "benchmark": "reminders", "count": args.count, "concurrency": args.concurrency,
        "broker": settings.CELERY_BROKER_URL.split("://")[0], "celery_msg_per_s": round(celery_rate, 1),
        "floor_msg_per_s": round(floor_rate, 1), "floor_before_msg_per_s": round(floor_before, 1),
        "floor_after_msg_per_s": round(floor_after, 1), "ratio": round(ratio, 3), "goal_ratio": GOAL_RATIO,
        "all_received_once": once,
        "celery_cpu_ms_per_msg": celery_cpu.per_message_ms(args.count - 1), "celery_machine_busy": celery_cpu.busy,
        "floor_cpu_ms_per_msg": floor_cpu.per_message_ms(len(payloads)), "floor_machine_busy": floor_cpu.busy,
        "floor_before_cpu_ms_per_msg": floor_before_cpu.per_message_ms(args.count),
    }), flush=True)
    if not once or statuses != Counter({NotificationStatus.SENT: args.count}):
        sys.exit("not every reminder arrived exactly once")


if __name__ == "__main__":
    main()
