"""`make run`: migrate, load the demo, then run the Procfile's processes with honcho until one Ctrl-C.

honcho starts the processes, prefixes their output and stops them all on Ctrl-C or when one of them
ends. This wrapper does what honcho cannot: the database set-up as the owner before they start, their
environment (the runtime role's login, the address patients' links point at, the local mail catcher),
waiting for the health check before saying where Ionto answers, and stopping the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from honcho import manager as honcho_manager
from honcho.environ import parse_procfile
from honcho.manager import SIGNALS, Manager

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"
STARTUP_TIMEOUT_SECONDS = 120
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")
# A Celery worker on the database broker needs longer than honcho's default wait for its warm shutdown;
# killed sooner, Ctrl-C would end it with SIGKILL every time.
honcho_manager.KILL_WAIT = 20


def procfile_commands(values: dict[str, str] | None = None) -> dict[str, list[str]]:
    """The Procfile's processes as argument lists, each ``${NAME:-default}`` replaced by ``values[NAME]``
    or its default: what docker-compose and the benchmarks run without a shell."""
    values = values or {}
    processes = parse_procfile(PROCFILE.read_text()).processes
    return {name: shlex.split(_DEFAULTED.sub(lambda m: values.get(m[1], m[2]), line))
            for name, line in processes.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--no-demo", action="store_true", help="Do not load the demo clinic.")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    uses_embedded_db = not os.environ.get("DATABASE_URL")
    if uses_embedded_db:
        from devtools import embedded

        embedded.ensure_running()
    try:
        manager, url, mail_dir = _prepare(args.host, args.port, no_demo=args.no_demo)
        threading.Thread(target=_announce_when_healthy, args=(manager, url, mail_dir), daemon=True).start()
        manager.loop()
    finally:
        if uses_embedded_db:
            embedded.stop()
            print("Stopped the embedded PostgreSQL.", flush=True)
    if manager.returncode in {signal["rc"] for signal in SIGNALS.values()}:
        return 0  # stopped as asked: Ctrl-C or SIGTERM
    print(f"A process stopped with exit code {manager.returncode}, so every other one was stopped too.",
          file=sys.stderr)
    return 1


def _prepare(host: str, port: int, *, no_demo: bool) -> tuple[Manager, str, Path | None]:
    """Migrate and set up as the owner (this process), then a honcho manager for the processes."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from clinic.health import broker_check

    call_command("migrate", interactive=False, verbosity=1)
    if settings.DATABASE_RUNTIME_URL:
        call_command("grant_runtime_role")
    # Before worker and beat start together: the database broker makes its tables on first use,
    # as the owner here, and the owner's default privileges grant them to the runtime role.
    problem = broker_check()
    if problem:
        sys.exit(f"The Celery broker at CELERY_BROKER_URL is {problem}.")
    if not no_demo:
        call_command("demo_data")
    connections.close_all()  # the processes log in as the runtime role; the owner's sessions end here

    url = f"http://{host}:{port}"
    env = dict(os.environ)
    env.update(
        # Web, worker, sender and beat log in as the runtime role (and reach the database broker with it,
        # unless CELERY_BROKER_URL names another broker).
        DATABASE_URL=settings.DATABASE_RUNTIME_URL or os.environ["DATABASE_URL"],
        HOST=host, PORT=str(port),
        BEAT_SCHEDULE_FILE=str(settings.DATA_DIR / "celerybeat-schedule"),
        # The venv's gunicorn, celery and python, also when it is not activated.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    # Patients' links point at the address served here unless the clinic names its public one.
    env.setdefault("IONTO_PUBLIC_URL", url)
    names = ["web", "worker", "sender", "beat"]
    mail_dir = None
    if not os.environ.get("EMAIL_HOST"):
        mail_dir = settings.DATA_DIR / "mail"
        env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(settings.EMAIL_PORT), MAIL_DIR=str(mail_dir))
        names.append("mail")

    manager = Manager()
    processes = parse_procfile(PROCFILE.read_text()).processes
    for name in names:
        manager.add_process(name, processes[name], env=env, cwd=str(ROOT))
    return manager, url, mail_dir


def _announce_when_healthy(manager: Manager, url: str, mail_dir: Path | None) -> None:
    """Say where Ionto answers once its health check does; stop everything if it never does."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health/", timeout=5) as response:  # noqa: S310  # nosec B310
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    else:
        print(f"Ionto did not answer {url}/api/v1/health/ in {STARTUP_TIMEOUT_SECONDS} s.", file=sys.stderr)
        manager.terminate()
        return
    lines = ["", f"Ionto is running: admin {url}/admin/  API {url}/api/v1/  docs {url}/api/v1/docs/"]
    if mail_dir:
        lines.append(f"Patient emails land in {mail_dir} (one .eml file each).")
    lines.append("Press Ctrl-C to stop everything.")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
