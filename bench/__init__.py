"""Benchmark data and benchmarks, run against a database of their own (never the demo or a test database).

``python -m bench.seed`` fills it, ``python -m bench.engine`` measures the slot engine on it.
"""

from __future__ import annotations

import os
import sys

DEFAULT_DATABASE = "ionto_bench"


def use_database(name: str, *, recreate: bool = False) -> None:
    """Set Django up against the bench database ``name`` on the configured server (the embedded
    PostgreSQL when DATABASE_URL is unset); ``recreate`` drops and creates it first."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    if not os.environ.get("DATABASE_URL"):
        from devtools import embedded

        embedded.ensure_running()
    import django

    django.setup()
    import psycopg2
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    if name == settings_dict["NAME"] or name.startswith("test_") or not name.replace("_", "").isalnum():
        sys.exit(f"Refusing {name!r}: the bench needs a database of its own (letters, digits, _), "
                 "not the demo or a test database.")
    server = psycopg2.connect(dbname="postgres", user=settings_dict["USER"], password=settings_dict["PASSWORD"],
                              host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None)
    try:
        server.autocommit = True
        with server.cursor() as cursor:
            if recreate:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        server.close()
    connections["default"].close()
    settings_dict["NAME"] = name
