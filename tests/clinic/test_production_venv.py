"""The production shape from `requirements.txt` alone: a fresh virtual environment with nothing else
installed (pytest brings packages the product may forget to pin), then the Procfile's worker, sender
and beat started from it over Redis with the production settings, until a booking's confirmation
arrives at a real SMTP server. The beat's first tick comes one dispatch interval after it starts (10 s
here: IONTO_DISPATCH_SECONDS).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import time_machine
from aiosmtpd.controller import Controller

from devtools.mailcatcher import MailFolder
from devtools.serve import procfile_commands
from scheduling.models import Notification, NotificationKind, NotificationStatus
from tests.conftest import free_port
from tests.delivery_support import worker_database_url
from tests.factories import book, make_clinic, make_course, next_weekday

ROOT = Path(__file__).resolve().parents[2]
REDIS = ("127.0.0.1", 6379)


def redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


pytestmark = [
    pytest.mark.broker,
    pytest.mark.timeout(900),
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_answers(), reason="no Redis answers on 127.0.0.1:6379 (the production broker)"),
]


@pytest.fixture(scope="module")
def requirements_venv(tmp_path_factory) -> Path:
    """A virtual environment made from requirements.txt alone (pip's own cache makes a second run quick)."""
    venv = tmp_path_factory.mktemp("production") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", "-r", str(ROOT / "requirements.txt")],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    return venv


def test_worker_sender_and_beat_from_requirements_alone_send_a_confirmation_over_redis(requirements_venv, tmp_path):
    mail = MailFolder(tmp_path / "mail")
    port = free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    queue = f"ionto-venv-{uuid.uuid4().hex[:10]}"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "EMAIL_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        PATH=f"{requirements_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="clinic.settings.production", DJANGO_SECRET_KEY="v" * 64,
        DATABASE_URL=worker_database_url(), CACHE_URL="redis://127.0.0.1:6379/14",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/15", CELERY_QUEUE=queue,
        EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), IONTO_PUBLIC_URL="https://clinic.example.org",
        IONTO_DISPATCH_SECONDS="10",
    )
    commands = procfile_commands({"CELERY_QUEUE": queue, "BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule")})
    # The processes run on the real clock: the booking is made at the real moment, so its confirmation
    # is due at the beat's first tick.
    with time_machine.travel(time_machine.escape_hatch.time.time(), tick=True):
        clinic = make_clinic(name="Venv Clinic")
        book(clinic, make_course(clinic), clinic.at(next_weekday(0), 9))
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "sender", "beat")}
    processes = [subprocess.Popen(commands[name], cwd=ROOT, env=env, stdout=logs[name].open("w"),
                                  stderr=subprocess.STDOUT, start_new_session=True) for name in logs]
    try:
        row = Notification.objects.get(kind=NotificationKind.BOOKING_CONFIRMATION)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not mail.messages():
            for process, name in zip(processes, logs, strict=True):
                assert process.poll() is None, f"{name} stopped:\n{logs[name].read_text()}"
            time.sleep(1)
        [message] = mail.messages()
        assert message["Subject"] == "Your session at Venv Clinic is booked"
        time.sleep(1)
        row.refresh_from_db()
        assert row.status == NotificationStatus.SENT
        assert "scheduling.notifications_dispatch_due" in logs["worker"].read_text()
        assert "scheduling.notification_send" in logs["sender"].read_text()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        controller.stop()
