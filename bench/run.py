"""Every benchmark in one run, one table: ``make bench`` (``python -m bench.run [--quick]``).

1. The API under load: gunicorn with the production settings (2 workers) on a generated database,
   driven by locust from a second process on loopback at 16 users, one scenario at a time, at two
   sizes (10,000 and 1,000,000 appointments over 5 locations; with ``--size 10m``, 1,000,000 and
   10,000,000 over 1,000 locations); each request's SQL queries counted in-process.
2. The floor: the day schedule from one hand-written SQL query through psycopg2, as JSON.
3. Growth: each figure at the large size over the small one.
4. Peers: django-scheduler and django-appointment from PyPI in bench/.peers-venv, on a database of
   their own with 20 clinicians and 200,000 sessions, against Ionto on the same questions.
5. The slot engine (bench/engine.py), the front desk's admin pages (bench/admin.py), the managers'
   reports (bench/reports.py) and the reminders (bench/reminders.py) benchmarks.

The table (figure, value, goal, pass/fail) is printed and written with the machine's description
to bench/results/latest.json (``--size 10m``: latest-10m.json; quick runs: quick-latest.json). A bench
database that already holds its size is reused, so the 10,000,000 one is made once. Nothing here asserts a
time: a missed goal is a row that says so.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.admin import COUNTS as ADMIN_COUNTS
from bench.reports import COUNTS as REPORT_COUNTS
from bench.scenarios import BOOK_CANCEL, LABELS, READS, SCENARIOS, read_path
from bench.stats import parse, summary
from devtools.serve import procfile_commands

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS = ROOT / "bench" / "results"
PEERS_DIR = ROOT / "bench" / "peers"
PEERS_VENV = ROOT / "bench" / ".peers-venv"
UNTHROTTLED = "1000000/min"
USERS = 16
# Front-desk users read a day schedule, then read it: 0.5-1.5 s between requests (locust's wait time).
THINK_SECONDS = (0.5, 1.5)
GOAL_DAY_P99_MS = 50.0
GOAL_QUERIES = 8
GOAL_GROWTH = 1.5
GOAL_FLOOR_RATIO = 4.0
GOAL_WEEK_MS = 10.0  # the API issue's goal: one clinician's week through the API
# Issue 25: the writes' queries, booking's rate (4x the 35 req/s measured before it), the API's own cost
# (an authenticated request that does nothing) and one clinician's free slots for a day against django-appointment.
GOAL_WRITE_QUERIES = {"book": 10, "move": 8, "cancel": 8}
BOOK_RPS_BEFORE = 35.0
GOAL_BOOK_RPS = 4 * BOOK_RPS_BEFORE
GOAL_NOOP_MS, GOAL_NOOP_QUERIES = 1.0, 1
GOAL_SLOTS_DAY_RATIO, GOAL_SLOTS_DAY_QUERIES = 5.0, 3


@dataclass
class Size:
    label: str
    appointments: int
    locations: int
    patients: int


# The sizes a run compares: the default and --size 10m (issue 25's growth: every row at 10,000,000 within 1.5x of
# the same row at 1,000,000). The generator fills each location's lanes, so 1,000 locations hold 10,000,000
# appointments in a shorter history than 5 locations hold 1,000,000.
SIZES = {
    "1m": [Size("10k", 10_000, 5, 50_000), Size("1m", 1_000_000, 5, 50_000)],
    "10m": [Size("1m", 1_000_000, 5, 50_000), Size("10m", 10_000_000, 1_000, 1_500_000)],
}


@dataclass
class Settings:
    quick: bool
    sizes: list[Size]
    seconds: int  # locust run per scenario
    paced_seconds: int  # the day schedule's run with think time
    sequential: int  # single-user day schedule requests
    peer_sessions: int
    peer_clinicians: int
    peer_times: int
    prefix: str
    reseed: bool
    peers: bool
    engine: bool
    admin: bool
    reports: bool
    reminders: bool
    reminders_timeout: int
    results: Path


@dataclass
class Row:
    figure: str
    value: str
    goal: str = ""
    result: str = ""  # pass, FAIL, missing or empty for a figure without a goal

    def as_dict(self) -> dict:
        return {"figure": self.figure, "value": self.value, "goal": self.goal, "result": self.result}


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def add(self, figure: str, value: str, goal: str = "", result: str = "") -> None:
        self.rows.append(Row(figure, value, goal, result))


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def verdict(ok: bool | None) -> str:
    return "missing" if ok is None else ("pass" if ok else "FAIL")


# --- the machine and the database server -------------------------------------------------------------


def database_url(name: str) -> str:
    """The URL of database ``name`` on the server Ionto uses (the embedded one when DATABASE_URL is unset)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        parts = urlsplit(configured)
        return urlunsplit(parts._replace(path=f"/{name}"))
    from devtools import embedded

    return embedded.database_url(name)


def server_connection(name: str = "postgres"):
    import psycopg2

    return psycopg2.connect(database_url(name))


def ensure_server() -> None:
    if not os.environ.get("DATABASE_URL"):
        from devtools import embedded

        embedded.ensure_running()


def machine() -> dict:
    cpu = "unknown"
    memory_gb = None
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
        with open("/proc/meminfo") as info:
            kib = next(int(line.split()[1]) for line in info if line.startswith("MemTotal"))
            memory_gb = round(kib / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    with server_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    connection.close()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb, "python": platform.python_version(),
            "postgresql": server, "system": f"{platform.system()} {platform.release()}",
            "load_average_at_start": [round(value, 2) for value in os.getloadavg()]}


def machine_line(description: dict) -> str:
    return (f"{description['cpu']}, {description['cores']} cores, {description['memory_gb']} GB, "
            f"Python {description['python']}, PostgreSQL {description['postgresql']}, {description['system']}")


# --- subprocesses --------------------------------------------------------------------------------------


def run_json(arguments: list[str], *, env: dict | None = None, cwd: Path = ROOT, timeout: int = 1800) -> dict:
    """Run a benchmark command and return the figures of its BENCH-JSON line."""
    completed = subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=timeout, check=False)
    figures = parse(completed.stdout)
    if completed.returncode != 0 or figures is None:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-12:]
        raise RuntimeError(f"{' '.join(arguments[1:4])} failed ({completed.returncode}):\n" + "\n".join(tail))
    return figures


def appointments_in(name: str) -> int | None:
    """The generator's appointments in bench database ``name``, or None when it does not exist or is not seeded."""
    import psycopg2

    with server_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
    connection.close()
    if not exists:
        return None
    try:
        with server_connection(name) as connection, connection.cursor() as cursor:
            # The benchmarks' own bookings (patients named Bench) are not the generator's.
            cursor.execute("SELECT count(*) FROM scheduling_appointment a JOIN patients_patient p "
                           "ON p.id = a.patient_id WHERE p.first_name <> 'Bench'")
            count = cursor.fetchone()[0]
        connection.close()
    except psycopg2.Error:
        return None
    return count


def seed(size: Size, database: str, reseed: bool) -> float:
    """Seed ``database`` unless it already holds this size; the seconds the generator took, 0 when reused."""
    found = appointments_in(database)
    if not reseed and found == size.appointments:
        log(f"{database}: reusing {found:,} appointments (--reseed makes it anew), migrated to this code")
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, check=True,
                       env={**os.environ, "DATABASE_URL": database_url(database)})
        return 0.0
    log(f"{database}: seeding {size.appointments:,} appointments")
    started = clock.monotonic()
    subprocess.run([PYTHON, "-m", "bench.seed", "--database", database, "--locations", str(size.locations),
                    "--patients", str(size.patients), "--appointments", str(size.appointments), "--seed", "1"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return clock.monotonic() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """Ionto as production runs it: gunicorn, clinic.settings.production, 2 workers, on one bench database."""

    def __init__(self, database: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clinic.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url(database),
            # The bench runs on one machine: its gunicorn workers share a folder as their cache.
            "CACHE_URL": f"file://{tempfile.mkdtemp(prefix='ionto-bench-cache-')}",
            # Production refuses to start without a relay; the measured requests send no mail.
            "EMAIL_HOST": os.environ.get("EMAIL_HOST") or "127.0.0.1",
            # The bench's manager signs in with a password only: it measures the API, not the second step.
            "IONTO_MANAGER_2FA_REQUIRED": "false",
            "IONTO_API_RATE_USER": UNTHROTTLED,
            "IONTO_API_RATE_ANON": UNTHROTTLED,
            "IONTO_API_RATE_TOKEN": "1000/min",
            "DJANGO_LOG_LEVEL": "ERROR",
        }
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        # The web command production runs (the Procfile: docker-compose, make run), 2 workers.
        program, *args = procfile_commands({"HOST": "127.0.0.1", "PORT": str(self.port)})["web"]
        self.process = subprocess.Popen(
            [PYTHON, "-m", program, *args, "--log-level", "warning", "--timeout", "120"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        deadline = clock.monotonic() + 60
        while clock.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn stopped: " + self.process.stderr.read()[-2000:])
            try:
                if self.request("GET", "/api/v1/health/", timeout=5)[0] == 200:
                    return self
            except OSError:
                clock.sleep(0.3)
        raise RuntimeError("gunicorn did not answer /api/v1/health/ within 60 s")

    def request(self, method: str, path: str, *, body: dict | None = None, token: str | None = None,
                timeout: float = 60) -> tuple[int, bytes]:
        """One request on a connection of its own (gunicorn's sync workers close each one anyway)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    def token(self, plan: dict) -> str:
        status, body = self.request("POST", "/api/v1/auth/token/",
                                    body={"username": plan["username"], "password": plan["password"]})
        if status != 201:
            raise RuntimeError(f"POST /api/v1/auth/token/ answered {status}: {body[:300]!r}")
        return json.loads(body)["token"]


def sequential(server: Gunicorn, token: str, path: str, times: int) -> dict:
    """One user, one request after another, each on a connection of its own (gunicorn's sync workers
    close it after each answer): the latency of a request with nothing queued in front of it."""
    timings = []
    for _ in range(times + 3):
        started = clock.perf_counter()
        status, _ = server.request("GET", path, token=token)
        timings.append((clock.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    return summary(timings[3:])


def locust(server: Gunicorn, token: str, plan_file: Path, scenario: str, seconds: int, work: Path,
           think: tuple[float, float] | None = None) -> dict:
    """One headless locust run of ``scenario`` (several: comma-separated) at 16 users, asking without
    pause or with ``think`` seconds between requests; exact percentiles from every request's time."""
    out = work / f"locust-{scenario.replace(',', '-')}{'-think' if think else ''}.json"
    env = {**os.environ, "BENCH_PLAN": str(plan_file), "BENCH_SCENARIO": scenario, "BENCH_TOKEN": token,
           "BENCH_OUT": str(out), "PYTHONPATH": str(ROOT), "BENCH_THINK": ",".join(map(str, think or ()))}
    command = [str(Path(PYTHON).with_name("locust")), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
               "--users", str(USERS), "--spawn-rate", str(USERS), "--run-time", f"{seconds}s", "--host", server.url,
               "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "10", "--exit-code-on-error", "0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=seconds + 120)
    raw = json.loads(out.read_text())
    figures = {}
    for name, times in raw["times_ms"].items():
        figures[name] = {**summary(times), "rps": round(len(times) / raw["seconds"], 1) if raw["seconds"] else 0.0,
                         "failures": raw["failures"].get(name, {}).get("count", 0)}
    for name, failure in raw["failures"].items():
        figures.setdefault(name, {"n": 0, "rps": 0.0})
        figures[name]["failures"] = failure["count"]
        figures[name]["first_failures"] = failure["first"]
    return figures


# --- the API at one size ---------------------------------------------------------------------------------


def api_at(size: Size, settings: Settings, work: Path, with_peer_questions: bool) -> dict:
    database = f"{settings.prefix}_{size.label}"
    seeded_seconds = seed(size, database, settings.reseed)
    log(f"{database}: preparing the login and the questions")
    plan = run_json([PYTHON, "-m", "bench.api", "prepare", "--database", database])
    plan_file = work / f"plan-{size.label}.json"
    plan_file.write_text(json.dumps(plan))
    base = [PYTHON, "-m", "bench.api"]
    counted = run_json([*base, "queries", "--database", database, "--plan", str(plan_file)])
    floor = run_json([*base, "floor", "--database", database, "--plan", str(plan_file),
                      "--times", str(settings.sequential), "--budget", "20"])
    result = {"database": database, "appointments": plan["appointments"], "seed_seconds": round(seeded_seconds, 1),
              "questions": {key: plan[key] for key in ("location", "day", "week_first_day", "clinician",
                                                       "clinician_sessions_in_week", "patient_prefix", "course")},
              "queries": counted, "floor": floor, "load": {}}
    with Gunicorn(database) as server:
        token = server.token(plan)
        log(f"{database}: single-user day schedule, {settings.sequential} requests")
        result["sequential_day_schedule"] = sequential(server, token, read_path(plan, "day_schedule"),
                                                       settings.sequential)
        runnable = []
        for scenario in SCENARIOS:
            if scenario != BOOK_CANCEL and counted.get(scenario, {}).get("status") != 200:
                result["load"][scenario] = {"skipped": f"answers {counted.get(scenario, {}).get('status')}"}
            else:
                runnable.append(scenario)
        # A quick run asks everything in one locust run; a real one asks each question on its own.
        for scenarios in [runnable] if settings.quick else [[scenario] for scenario in runnable]:
            log(f"{database}: {', '.join(scenarios)} at {USERS} users for {settings.seconds} s")
            result["load"].update(locust(server, token, plan_file, ",".join(scenarios), settings.seconds, work))
        if "day_schedule" in runnable:
            log(f"{database}: day_schedule at {USERS} users, {THINK_SECONDS[0]:g}-{THINK_SECONDS[1]:g} s between "
                f"requests, for {settings.paced_seconds} s")
            result["paced_day_schedule"] = locust(server, token, plan_file, "day_schedule", settings.paced_seconds,
                                                  work, think=THINK_SECONDS)["day_schedule"]
    if with_peer_questions:
        log(f"{database}: Ionto on the peers' questions")
        result["peer_questions"] = run_json([*base, "peers", "--database", database, "--plan", str(plan_file),
                                             "--times", str(settings.peer_times), "--budget", "20"])
    return result


# --- the peers ---------------------------------------------------------------------------------------------


def peers(settings: Settings) -> dict:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        log("creating bench/.peers-venv")
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    log("installing the peers' pinned packages into bench/.peers-venv")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
                    str(PEERS_DIR / "requirements.txt")], check=True, capture_output=True)
    database = f"{settings.prefix}_peers"
    connection = server_connection()
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{database}"')
    finally:
        connection.close()
    env = {**os.environ, "PEERS_DATABASE_URL": database_url(database), "DJANGO_SETTINGS_MODULE": "peers_site.settings",
           "PYTHONPATH": f"{PEERS_DIR}{os.pathsep}{ROOT}"}
    env.pop("DATABASE_URL", None)
    log(f"{database}: loading {settings.peer_sessions:,} sessions of {settings.peer_clinicians} clinicians")
    loaded = run_json([str(python), str(PEERS_DIR / "load.py"), "--sessions", str(settings.peer_sessions),
                       "--clinicians", str(settings.peer_clinicians)], env=env, cwd=PEERS_DIR)
    today = datetime.now(UTC).date()
    week = today + timedelta(days=7 - today.weekday())  # next Monday: django-appointment refuses past days
    log("asking django-scheduler and django-appointment")
    asked = run_json([str(python), str(PEERS_DIR / "measure.py"), "--week", week.isoformat(),
                      "--times", str(settings.peer_times), "--budget", "20"], env=env, cwd=PEERS_DIR)
    versions = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True,
                              check=True).stdout.split()
    return {"database": database, "loaded": loaded, "week": week.isoformat(), "answers": asked,
            "versions": [line for line in versions if line.lower().startswith(("django", "gunicorn"))]}


# --- the other benchmarks ----------------------------------------------------------------------------------


def other_benchmark(module: str, arguments: list[str], *, timeout: int) -> dict:
    """Run ``python -m bench.<module>`` in a process group of its own (it may start a worker and a mail
    server) and read its BENCH-JSON line; past ``timeout`` seconds the whole group is stopped."""
    if not (ROOT / "bench" / f"{module}.py").exists():
        return {"missing": f"bench/{module}.py is not there"}
    process = subprocess.Popen([PYTHON, "-m", f"bench.{module}", *arguments], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        command = " ".join(["python", "-m", f"bench.{module}", *arguments])
        return {"missing": f"{command} did not finish within {timeout} s "
                           "(stopped; `make bench` keeps to 20 minutes)"}
    figures = parse(stdout)
    if process.returncode != 0:
        return {"missing": f"python -m bench.{module} failed ({process.returncode}): "
                           + " / ".join((stderr or stdout).strip().splitlines()[-3:])}
    if figures is None:
        return {"missing": f"python -m bench.{module} printed no BENCH-JSON line",
                "output": stdout.strip().splitlines()[-20:]}
    return figures


# --- the table ---------------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value:.1f} ms"


def load_text(load: dict) -> str:
    failures = f", {load['failures']} failed" if load.get("failures") else ""
    return (f"{load['rps']:.0f} req/s; median {ms(load['median_ms'])}, p95 {ms(load['p95_ms'])}, "
            f"p99 {ms(load['p99_ms'])}{failures}")


def api_rows(report: Report, small: dict, large: dict, small_size: Size, large_size: Size) -> None:
    name_large, name_small = f"{large_size.appointments:,}", f"{small_size.appointments:,}"
    for scenario in [*READS, "book", "cancel"]:
        label = LABELS[scenario]
        load = large["load"].get(scenario)
        counted = large["queries"].get(scenario, {})
        if load is None or "skipped" in load or load.get("n", 0) == 0:
            why = (load or {}).get("skipped") or counted.get("error") or (load or {}).get("first_failures") or "no run"
            report.add(f"API {label} ({name_large})", f"not measured: {why}", "", "missing")
            continue
        if scenario == "book":
            report.add(f"API {label} ({name_large}), {USERS} users without pause", load_text(load),
                       f">= {GOAL_BOOK_RPS:g} req/s (4x {BOOK_RPS_BEFORE:g})", verdict(load["rps"] >= GOAL_BOOK_RPS))
        else:
            report.add(f"API {label} ({name_large}), {USERS} users without pause", load_text(load))
        paced = large.get("paced_day_schedule")
        if scenario == "day_schedule" and paced and paced.get("n"):
            report.add(f"API {label} ({name_large}), {USERS} users, {THINK_SECONDS[0]:g}-{THINK_SECONDS[1]:g} s "
                       "between requests", load_text(paced), f"p99 < {GOAL_DAY_P99_MS:g} ms",
                       verdict(paced["p99_ms"] < GOAL_DAY_P99_MS))
        elif scenario == "day_schedule":
            report.add(f"API {label} ({name_large}), {USERS} users with think time", "not measured",
                       f"p99 < {GOAL_DAY_P99_MS:g} ms", "missing")
        small_count = small["queries"].get(scenario, {}).get("queries")
        large_count = counted.get("queries")
        if scenario in READS:
            fixed = small_count == large_count and large_count is not None and large_count <= GOAL_QUERIES
            report.add(f"SQL queries: {label}", f"{small_count} at {name_small}, {large_count} at {name_large}",
                       f"fixed, <= {GOAL_QUERIES}", verdict(fixed))
        else:
            write_row(report, scenario, small_count, large_count, name_small, name_large)
    write_row(report, "move", small["queries"].get("move", {}).get("queries"),
              large["queries"].get("move", {}).get("queries"), name_small, name_large)
    for scenario in READS:
        before, after = small["load"].get(scenario, {}), large["load"].get(scenario, {})
        if before.get("n") and after.get("n"):
            ratio = after["median_ms"] / before["median_ms"]
            report.add(f"growth {name_small} -> {name_large}: {LABELS[scenario]}",
                       f"{ratio:.2f}x (median {ms(before['median_ms'])} -> {ms(after['median_ms'])})",
                       f"< {GOAL_GROWTH:g}", verdict(ratio < GOAL_GROWTH))
    before, after = small["sequential_day_schedule"], large["sequential_day_schedule"]
    ratio = after["median_ms"] / before["median_ms"]
    report.add(f"growth {name_small} -> {name_large}: day schedule, 1 user",
               f"{ratio:.2f}x (median {ms(before['median_ms'])} -> {ms(after['median_ms'])})",
               f"< {GOAL_GROWTH:g}", verdict(ratio < GOAL_GROWTH))
    ratio = large["floor"]["median_ms"] / small["floor"]["median_ms"]
    report.add(f"growth {name_small} -> {name_large}: floor (one SQL query)",
               f"{ratio:.2f}x (median {ms(small['floor']['median_ms'])} -> {ms(large['floor']['median_ms'])})",
               f"< {GOAL_GROWTH:g}", verdict(ratio < GOAL_GROWTH))
    for data, name in ((small, name_small), (large, name_large)):
        api, floor = data["sequential_day_schedule"], data["floor"]
        ratio = api["median_ms"] / floor["median_ms"]
        report.add(f"API / floor: day schedule ({name}), 1 user",
                   f"{ratio:.2f}x (API median {ms(api['median_ms'])}, p99 {ms(api['p99_ms'])}; floor median "
                   f"{ms(floor['median_ms'])}, {floor['rows']} rows)",
                   f"< {GOAL_FLOOR_RATIO:g}", verdict(ratio < GOAL_FLOOR_RATIO))


def write_row(report: Report, scenario: str, small_count: int | None, large_count: int | None, name_small: str,
              name_large: str) -> None:
    limit = GOAL_WRITE_QUERIES[scenario]
    report.add(f"SQL queries: {LABELS[scenario]}", f"{small_count} at {name_small}, {large_count} at {name_large}",
               f"<= {limit}", verdict(None if large_count is None else max(small_count or 0, large_count) <= limit))


def noop_row(report: Report, ionto: dict | None, ionto_size: str) -> None:
    """The API's own cost per request: token, throttles, role, locations, audit context, nothing else."""
    noop = (ionto or {}).get("noop")
    label = f"API: an authenticated request that does nothing, in-process ({ionto_size} appointments)"
    goal = f"median < {GOAL_NOOP_MS:g} ms, <= {GOAL_NOOP_QUERIES} query"
    if noop is None:
        report.add(label, "not measured", goal, "missing")
        return
    report.add(label, f"median {ms(noop['median_ms'])}, p95 {ms(noop['p95_ms'])}, {noop['queries']} queries", goal,
               verdict(noop["median_ms"] < GOAL_NOOP_MS and noop["queries"] <= GOAL_NOOP_QUERIES))


PEER_PAIRS = (
    ("django-scheduler: one clinician's week (JSON occurrence feed)", "django_scheduler_week", "clinician_week"),
    ("django-appointment: free slots, one staff member, one day", "django_appointment_day", "availability_day"),
    ("django-appointment: free slots, all staff, one week", "django_appointment_week", "availability_week"),
)


def week_row(report: Report, ionto: dict | None, ionto_size: str) -> None:
    """The API's own goal: a clinician's week (the window query) under 10 ms median, a fixed query count."""
    week = (ionto or {}).get("clinician_week")
    label = f"API: one clinician's week, in-process ({ionto_size} appointments)"
    if week is None:
        report.add(label, "not measured", f"median < {GOAL_WEEK_MS:g} ms", "missing")
        return
    report.add(label, f"median {ms(week['median_ms'])}, p95 {ms(week['p95_ms'])}, {week['queries']} queries",
               f"median < {GOAL_WEEK_MS:g} ms", verdict(week["median_ms"] < GOAL_WEEK_MS))


def peer_rows(report: Report, found: dict, ionto: dict | None, ionto_size: str) -> None:
    if "missing" in found:
        report.add("peers", found["missing"], "each ratio > 1", "missing")
        return
    for label, peer_key, ionto_key in PEER_PAIRS:
        peer = found["answers"][peer_key]
        mine = (ionto or {}).get(ionto_key)
        if mine is None:
            report.add(f"peer / Ionto: {label}", "Ionto's side not measured", "> 1", "missing")
            continue
        ratio = peer["median_ms"] / mine["median_ms"]
        goal, ok = "> 1", ratio > 1
        if ionto_key == "availability_day":  # issue 25: one clinician's day through the API
            goal = f"> {GOAL_SLOTS_DAY_RATIO:g}, Ionto <= {GOAL_SLOTS_DAY_QUERIES} queries"
            ok = ratio > GOAL_SLOTS_DAY_RATIO and mine["queries"] <= GOAL_SLOTS_DAY_QUERIES
        report.add(f"peer / Ionto: {label}",
                   f"{ratio:.1f}x (peer {ms(peer['median_ms'])}, {peer['queries']} queries, "
                   f"{found['loaded']['sessions']:,} sessions; Ionto {ms(mine['median_ms'])}, {mine['queries']} "
                   f"queries, {ionto_size} appointments)", goal, verdict(ok))


def engine_rows(report: Report, found: dict) -> None:
    """bench/engine.py's figures: {"databases": [...], "results": {database: {question: [ms, queries]}},
    "goals": {question: [ms, queries or None]}}."""
    if "missing" in found:
        report.add("slot engine (bench/engine.py)", found["missing"], "", "missing")
        return
    databases, results, goals = found["databases"], found["results"], found.get("goals", {})
    sizes = [f"{results[database]['appointments in the database'][0]:,}" for database in databases]
    weeks = [results[database].get("booked sessions in the week asked", [None])[0] for database in databases]
    for question in results[databases[0]]:
        if question in ("appointments in the database", "booked sessions in the week asked"):
            continue
        cells = [f"{results[database][question][0]:.1f} ms, {results[database][question][1]} queries at {size}"
                 for database, size in zip(databases, sizes, strict=True)]
        goal, result = "", ""
        if question in goals:
            limit_ms, limit_queries = goals[question]
            goal = f"median < {limit_ms:g} ms" + (f", <= {limit_queries} queries" if limit_queries else "")
            largest = results[databases[-1]][question]
            result = verdict(largest[0] < limit_ms and (limit_queries is None or largest[1] <= limit_queries))
        report.add(f"engine: {question} (median)", "; ".join(cells), goal, result)
    if len(databases) > 1:
        for question in ("one clinician, one day", "all resources, one week"):
            if question in results[databases[0]]:
                ratio = results[databases[-1]][question][0] / results[databases[0]][question][0]
                booked = f" (weeks of {weeks[0]:,} and {weeks[-1]:,} booked sessions)" if None not in weeks else ""
                report.add(f"engine growth {sizes[0]} -> {sizes[-1]}: {question}", f"{ratio:.2f}x{booked}",
                           f"< {GOAL_GROWTH:g}", verdict(ratio < GOAL_GROWTH))


def admin_rows(report: Report, found: dict) -> None:
    """bench/admin.py's figures: {"databases": [...], "results": {database: {page: [ms, queries]}}}."""
    if "missing" in found:
        report.add("admin pages (bench/admin.py)", found["missing"], "", "missing")
        return
    databases, results = found["databases"], found["results"]
    sizes = [f"{results[database][ADMIN_COUNTS[0]][0]:,}" for database in databases]
    for page in results[databases[0]]:
        if page in ADMIN_COUNTS:
            continue
        cells = [f"{results[database][page][0]:.1f} ms, {results[database][page][1]} queries at {size}"
                 for database, size in zip(databases, sizes, strict=True)]
        same = len({results[database][page][1] for database in databases}) == 1
        report.add(f"admin: {page} (median)", "; ".join(cells), "same queries at every size", verdict(same))


def report_rows(report: Report, found: dict) -> None:
    """bench/reports.py's figures: {"databases": [...], "results": {database: {report: [ms, queries]}}, "goal_ms"}."""
    if "missing" in found:
        report.add("reports (bench/reports.py)", found["missing"], "", "missing")
        return
    databases, results, goal = found["databases"], found["results"], found["goal_ms"]
    sizes = [f"{results[database][REPORT_COUNTS[0]][0]:,}" for database in databases]
    for name in results[databases[0]]:
        if name in REPORT_COUNTS:
            continue
        cells = [f"{results[database][name][0]:.1f} ms, {results[database][name][1]} queries at {size}"
                 for database, size in zip(databases, sizes, strict=True)]
        same = len({results[database][name][1] for database in databases}) == 1
        fast = all(results[database][name][0] < goal for database in databases)
        report.add(f"report: {name}, every location, a year (median)", "; ".join(cells),
                   f"same queries at every size, < {goal} ms", verdict(same and fast))


def reminder_rows(report: Report, found: dict) -> None:
    """bench/reminders.py's figures: count, threads, reply_delay_ms, seconds, msg_per_s, all_received_once."""
    if "missing" in found:
        report.add("reminders (bench/reminders.py)", found["missing"], "", "missing")
        return
    goal = found["goal_seconds_per_10000"] * found["count"] / 10_000
    report.add(f"reminders: {found['count']:,} due, SMTP answering after {found['reply_delay_ms']} ms, "
               f"the sender's {found['threads']} threads, {found['broker']} broker",
               f"{found['seconds']:.0f} s ({found['msg_per_s']:.0f} msg/s); every message received once: "
               f"{'yes' if found['all_received_once'] else 'NO'}", f"<= {goal:.0f} s, each once",
               verdict(bool(found["all_received_once"]) and found["seconds"] <= goal))


def table(rows: list[Row]) -> str:
    lines = ["| figure | value | goal | result |", "| --- | --- | --- | --- |"]
    cell = lambda text: str(text).replace("|", "/").replace("\n", " ")  # noqa: E731
    lines += [f"| {cell(row.figure)} | {cell(row.value)} | {cell(row.goal)} | {row.result} |" for row in rows]
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------------------


def options(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short runs: a smoke test")
    parser.add_argument("--prefix", default=None, help="bench database name prefix (default ionto_bench)")
    parser.add_argument("--size", choices=sorted(SIZES), default="1m",
                        help="the larger size: 1m compares 10,000 with 1,000,000 appointments (default); 10m "
                             "compares 1,000,000 with 10,000,000 over 1,000 locations")
    parser.add_argument("--reseed", action="store_true", help="make the bench databases anew even if present")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-admin", action="store_true")
    parser.add_argument("--skip-reports", action="store_true")
    parser.add_argument("--skip-reminders", action="store_true")
    parser.add_argument("--seconds", type=int, default=None, help="locust run per scenario")
    parser.add_argument("--reminders-timeout", type=int, default=None,
                        help="seconds the reminders benchmark may take (default 300; quick 120)")
    parser.add_argument("--results", type=Path, default=None, help="JSON file to write (default under bench/results/)")
    args = parser.parse_args(argv)
    if args.quick:
        return Settings(quick=True, sizes=[Size("q500", 500, 1, 1500), Size("q2k", 2000, 1, 1500)],
                        seconds=args.seconds or 3, paced_seconds=args.seconds or 3, sequential=20,
                        peer_sessions=2000, peer_clinicians=4,
                        peer_times=3, prefix=args.prefix or "ionto_bench_quick", reseed=args.reseed,
                        peers=not args.skip_peers, engine=not args.skip_engine, admin=not args.skip_admin,
                        reports=not args.skip_reports,
                        reminders=not args.skip_reminders, reminders_timeout=args.reminders_timeout or 120,
                        results=args.results or RESULTS / "quick-latest.json")
    return Settings(quick=False, sizes=SIZES[args.size],
                    seconds=args.seconds or 12, paced_seconds=30, sequential=100, peer_sessions=200_000,
                    peer_clinicians=20,
                    peer_times=60, prefix=args.prefix or "ionto_bench", reseed=args.reseed,
                    peers=not args.skip_peers, engine=not args.skip_engine, admin=not args.skip_admin,
                    reports=not args.skip_reports,
                    reminders=not args.skip_reminders, reminders_timeout=args.reminders_timeout or 300,
                    results=args.results or RESULTS / ("latest.json" if args.size == "1m" else "latest-10m.json"))


def main(argv: list[str] | None = None) -> int:
    settings = options(argv)
    started = clock.monotonic()
    ensure_server()
    description = machine()
    report = Report()
    small_size, large_size = settings.sizes
    work = Path(tempfile.mkdtemp(prefix="ionto-bench-"))
    try:
        small = api_at(small_size, settings, work, with_peer_questions=False)
        large = api_at(large_size, settings, work, with_peer_questions=True)
        report.figures["api"] = {small_size.label: small, large_size.label: large}
        api_rows(report, small, large, small_size, large_size)
        week_row(report, large.get("peer_questions"), f"{large['appointments']:,}")
        noop_row(report, large.get("peer_questions"), f"{large['appointments']:,}")
        if settings.peers:
            try:
                found = peers(settings)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                found = {"missing": f"the peers could not run: {error}".replace("\n", " ")[:400]}
            report.figures["peers"] = found
            peer_rows(report, found, large.get("peer_questions"), f"{large['appointments']:,}")
        databases = [f"--database={settings.prefix}_{size.label}" for size in settings.sizes]
        if settings.engine:
            found = other_benchmark("engine", [*databases, *(["--runs", "3", "--course-runs", "1"]
                                                             if settings.quick else [])], timeout=900)
            report.figures["engine"] = found
            engine_rows(report, found)
        if settings.admin:
            found = other_benchmark("admin", [*databases, *(["--runs", "3"] if settings.quick else [])], timeout=600)
            report.figures["admin"] = found
            admin_rows(report, found)
        if settings.reports:
            found = other_benchmark("reports", [*databases, *(["--runs", "3"] if settings.quick else [])],
                                    timeout=600)
            report.figures["reports"] = found
            report_rows(report, found)
        if settings.reminders:
            found = other_benchmark("reminders", ["--count", "200"] if settings.quick else [],
                                    timeout=settings.reminders_timeout)
            report.figures["reminders"] = found
            reminder_rows(report, found)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    description["seconds"] = round(clock.monotonic() - started, 1)
    description["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    description["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print(f"Machine: {machine_line(description)}; load average at start "
          f"{', '.join(map(str, description['load_average_at_start']))}")
    print(f"Run: {'quick' if settings.quick else 'default sizes'}, {description['seconds']:.0f} s, "
          f"{description['finished_at']}")
    print(table(report.rows))
    failed = [row.figure for row in report.rows if row.result in ("FAIL", "missing")]
    print(f"{len(report.rows) - len(failed)} of {len(report.rows)} rows pass or carry no goal; "
          f"{len(failed)} FAIL or missing.")
    settings.results.parent.mkdir(parents=True, exist_ok=True)
    settings.results.write_text(json.dumps({
        "machine": description, "quick": settings.quick, "date": date.today().isoformat(),
        "table": [row.as_dict() for row in report.rows], "figures": report.figures,
    }, indent=2, default=str) + "\n")
    print(f"Written to {settings.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
