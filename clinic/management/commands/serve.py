"""`make run`: migrate, load the demo, then serve the admin and API with a worker, beat and mail catcher.

All processes run in the foreground of this command; one Ctrl-C (or SIGTERM) stops every one of
them, and the embedded PostgreSQL too when Ionto runs on it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from clinic import embedded, processes
from clinic.health import broker_check

STARTUP_TIMEOUT_SECONDS = 120


class Command(BaseCommand):
    help = "Run Ionto: web (gunicorn), Celery worker and beat, and a local mail catcher."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo clinic.")

    def handle(self, *args, port: int, host: str, no_demo: bool, **options):
        uses_embedded_db = not os.environ.get("DATABASE_URL")
        child_env = dict(os.environ)
        # This process is the owner; web, worker and beat log in as the runtime role (and reach the
        # database broker with it, unless CELERY_BROKER_URL names another broker).
        child_env["DATABASE_URL"] = settings.DATABASE_RUNTIME_URL or os.environ["DATABASE_URL"]
        # Patients' links point at the address served here unless the clinic names its public one.
        child_env.setdefault("IONTO_PUBLIC_URL", f"http://{host}:{port}")

        call_command("migrate", interactive=False, verbosity=1)
        if settings.DATABASE_RUNTIME_URL:
            call_command("grant_runtime_role")
        # Before worker and beat start together: the database broker makes its tables on first use,
        # as the owner here, and the owner's default privileges grant them to the runtime role.
        problem = broker_check()
        if problem:
            raise CommandError(f"The Celery broker at CELERY_BROKER_URL is {problem}.")
        if not no_demo:
            call_command("demo_data")

        commands = {
            "web": processes.web_command(f"{host}:{port}"),
            "worker": processes.worker_command(),
            "beat": processes.beat_command(str(embedded.DATA_DIR / "celerybeat-schedule")),
        }
        if not os.environ.get("EMAIL_HOST"):
            child_env["EMAIL_HOST"] = "127.0.0.1"
            child_env["EMAIL_PORT"] = str(settings.EMAIL_PORT)
            mail_folder = str(embedded.DATA_DIR / "mail")
            commands["mail"] = processes.mailcatcher_command(settings.EMAIL_PORT, mail_folder)

        running: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, command in commands.items():
                # A session of its own: the terminal's Ctrl-C reaches this command only,
                # which then stops each child in order.
                running[name] = subprocess.Popen(  # noqa: S603
                    processes.with_interpreter(command, sys.executable), env=child_env, start_new_session=True
                )
            url = f"http://{host}:{port}"
            self._wait_until_healthy(url, running, lambda: stopping)
            if not stopping:
                self._announce(url, running)
            while not stopping:
                for name, process in running.items():
                    if process.poll() is not None:
                        raise CommandError(f"{name} stopped with exit code {process.returncode}")
                time.sleep(0.5)
        finally:
            self._stop_all(running)
            if uses_embedded_db:
                embedded.stop()
                self.stdout.write("Stopped the embedded PostgreSQL.")

    def _wait_until_healthy(self, url, running, is_stopping):
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not is_stopping() and time.monotonic() < deadline:
            for name, process in running.items():
                if process.poll() is not None:
                    raise CommandError(f"{name} stopped during start-up with exit code {process.returncode}")
            try:
                health = f"{url}/api/v1/health/"  # our own http:// address
                with urllib.request.urlopen(health, timeout=5) as response:  # noqa: S310  # nosec B310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        if not is_stopping():
            raise CommandError(f"Ionto did not answer {url}/api/v1/health/ in {STARTUP_TIMEOUT_SECONDS} s")

    def _announce(self, url, running):
        lines = [
            "",
            f"Ionto is running: admin {url}/admin/  API {url}/api/v1/  docs {url}/api/v1/docs/",
        ]
        if "mail" in running:
            lines.append(f"Patient emails land in {embedded.DATA_DIR / 'mail'} (one .eml file each).")
        lines.append("Press Ctrl-C to stop everything.")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    def _stop_all(self, running):
        # SIGTERM to each main process: gunicorn and Celery shut their own children down.
        for process in running.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for name, process in running.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
