"""Delivery support: a real SMTP server (aiosmtpd) and real Celery workers over the configured broker.

The workers are subprocesses (`python -m celery -A clinic worker`) on the test database, as the
Procfile runs them: one for the dispatch (the default queue) and two senders with thread pools (the
send queue). The SMTP server is aiosmtpd in the test process, so a test can make it answer 451, 550 or
hold its reply. Each test run has queues of its own on the shared broker. A test module uses the
`mail`, `workers` and `mailbox` fixtures (module-scoped servers, a mailbox emptied around each test).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil
import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from devtools.mailcatcher import MailFolder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ROOT = Path(__file__).resolve().parents[1]
QUEUE = f"ionto-test-{uuid.uuid4().hex[:10]}"
SEND_QUEUE = f"{QUEUE}.send"  # settings.IONTO_SEND_QUEUE in the workers


def worker_database_url() -> str:
    """The test database as a URL for the workers (a socket directory as host for the embedded server)."""
    db = connection.settings_dict
    if not db["HOST"] or db["HOST"].startswith("/"):
        host = f"?host={db['HOST']}" if db["HOST"] else ""
        return f"postgresql://{db['USER']}@/{db['NAME']}{host}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


class Mail:
    def __init__(self, folder: Path):
        self.handler = MailFolder(folder)
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def reset(self):
        for path in self.handler.folder.glob("*.eml"):
            path.unlink()
        self.handler.temporary_failures = 0
        self.handler.refused_recipients = set()
        self.handler.hold_seconds = 0.0

    def subjects_by_message_id(self) -> Counter:
        return Counter((message["Message-ID"], message["Subject"]) for message in self.handler.messages())


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    server = Mail(tmp_path_factory.mktemp("mail"))
    server.controller.start()
    yield server
    server.controller.stop()


class Worker:
    def __init__(self, name: str, env: dict, log: Path, queue: str, pool: list[str]):
        self.log = log
        self.command = [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--loglevel", "INFO",
                        *pool, "--queues", queue, "--hostname", f"{name}@%h",
                        "--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.env = env
        self.starts = 0
        self.start()

    def start(self):
        self.starts += 1
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.log.open("a"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_text().count(" ready.") == self.starts:
                return
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout} s:\n{self.log.read_text()}")

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # cold shutdown: every test waited for its sends

    def wait_stopped(self):
        if self.process.returncode is None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def workers(mail, django_db_setup, django_db_blocker, tmp_path_factory):
    """Two senders of two threads each (the send queue) and a dispatch worker (the default queue), on the
    test database, the test SMTP server and our queues. The fixture's value is the two senders."""
    with django_db_blocker.unblock():
        database_url = worker_database_url()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_TEST_NAME"}
    env.update(DATABASE_URL=database_url, CELERY_BROKER_URL=settings.CELERY_BROKER_URL, CELERY_QUEUE=QUEUE,
               EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(mail.port), IONTO_PUBLIC_URL="https://clinic.example.org",
               DJANGO_SETTINGS_MODULE="clinic.settings", DJANGO_LOG_LEVEL="INFO")
    logs = tmp_path_factory.mktemp("workers")
    started = [Worker(f"w{i}-{QUEUE}", env, logs / f"w{i}.log", SEND_QUEUE, ["--pool", "threads", "--concurrency", "2"])
               for i in range(2)]
    started.append(Worker(f"dispatch-{QUEUE}", env, logs / "dispatch.log", QUEUE, ["--concurrency", "1"]))
    try:
        for worker in started:
            worker.wait_ready()
        yield started[:2]
    finally:
        for worker in started:
            worker.stop()
        for worker in started:
            worker.wait_stopped()


@pytest.fixture
def mailbox(mail, workers):
    mail.reset()
    yield mail
    mail.reset()


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
