"""Every migration applies on an empty database and reverses to nothing, and the models match them."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import psycopg2
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[1]
OUR_APPS = ["api", "scheduling", "patients", "clinic"]  # dependents first


def manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def our_tables(database_url: str) -> list[str]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
                       "split_part(tablename, '_', 1) = ANY(%s) ORDER BY 1", [OUR_APPS])
        return [row[0] for row in cursor.fetchall()]


def test_every_migration_reverses_and_applies_again(scratch_database):
    manage(scratch_database, "migrate", "--noinput")
    assert "scheduling_appointment" in our_tables(scratch_database)
    for app in OUR_APPS:
        manage(scratch_database, "migrate", app, "zero", "--noinput")
    assert our_tables(scratch_database) == []
    manage(scratch_database, "migrate", "--noinput")
    assert "scheduling_appointment" in our_tables(scratch_database)


def test_models_and_migrations_agree(db):
    """In this process, on the test database: makemigrations --check exits non-zero on a missing migration."""
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
