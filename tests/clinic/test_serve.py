"""`make run`'s runner end to end: it migrates, loads the demo, runs the Procfile with honcho, and one
Ctrl-C stops it all."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg2

from tests.conftest import free_port, runtime_login, server_url

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        return response.status


def test_serve_answers_health_and_admin_then_ctrl_c_stops_every_process(scratch_database):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"EMAIL_HOST", "CELERY_BROKER_URL", "IONTO_PUBLIC_URL"}}
    database = urlsplit(scratch_database).path.lstrip("/")
    env.update(DATABASE_URL=scratch_database, DATABASE_RUNTIME_URL=server_url(database, runtime=True),
               EMAIL_PORT=str(free_port()), PORT=str(port))
    serve = subprocess.Popen(
        [sys.executable, "-m", "devtools.serve"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(serve.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and serve.poll() is None:
            if any("Ionto is running" in line for line in output):
                break
            time.sleep(0.5)
        assert any("Ionto is running" in line for line in output), "".join(output)
        assert _get(f"http://127.0.0.1:{port}/api/v1/health/") == 200
        assert _get(f"http://127.0.0.1:{port}/admin/login/") == 200
        # The Procfile's processes and theirs; honcho's own forks of the runner (one a process) are not.
        runner = psutil.Process(serve.pid)
        descendants = runner.children(recursive=True)
        children = [child for child in descendants if child.cmdline() != runner.cmdline()]
        commands = " ".join(" ".join(child.cmdline()) for child in children)
        for program in ("gunicorn", "celery -A clinic worker", "celery -A clinic beat", "devtools.mailcatcher"):
            assert program in commands
        # The worker writes the emails: their links point at the port served, not a default one.
        [worker] = [child for child in children if "celery -A clinic worker" in " ".join(child.cmdline())][:1]
        assert worker.environ()["IONTO_PUBLIC_URL"] == f"http://127.0.0.1:{port}"
        # Web, worker and beat log in as the runtime role: every connection made since they started (the
        # health check made web's and the broker's) is its; `serve` itself migrated as the owner before.
        assert {child.environ()["DATABASE_URL"] for child in children} == {server_url(database, runtime=True)}
        started = min(child.create_time() for child in children)
        with psycopg2.connect(scratch_database) as owner, owner.cursor() as cursor:
            cursor.execute("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = %s "
                           "AND backend_start >= to_timestamp(%s) AND pid <> pg_backend_pid()", [database, started])
            logins = [row[0] for row in cursor.fetchall()]
        owner.close()
        assert logins == [runtime_login()[0]]
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=60)
        reader.join(timeout=10)
    assert serve.returncode == 0, "".join(output)
    gone, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == []
