"""The two database logins: the owner, which runs migrations and owns every table, and the runtime role
that web, worker and beat log in as.

The runtime role owns nothing, is no superuser and no member of the owner, so the application's own
login cannot truncate the audit trail, drop or disable its triggers, or turn them off with
``session_replication_role``: it may only add to the audit table and read it.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction

AUDIT_TABLE = "patients_auditevent"


def runtime_role_grant(*, role: str, password: str = "", using: str = "default") -> None:
    """Make the runtime role if the server has none of that name, and grant it what the application needs.

    Runs as the owner after ``migrate``, on every start: it grants the tables there are now, and the
    owner's default privileges grant the tables later migrations (and the Celery database broker) make.
    """
    connection = connections[using]
    name = connection.ops.quote_name(role)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            try:
                with transaction.atomic(using=using):
                    cursor.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", [password or None])
            except DatabaseError:
                # Roles are server-wide: another database's start made it at the same moment.
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
                if cursor.fetchone() is None:
                    raise
        cursor.execute("SELECT rolsuper OR pg_has_role(%s, current_user, 'MEMBER') FROM pg_roles WHERE rolname = %s",
                       [role, role])
        if cursor.fetchone()[0]:
            raise ImproperlyConfigured(
                f"The runtime database role {role} must not be a superuser nor the owner (or a member of it): "
                "give DATABASE_RUNTIME_URL a login of its own."
            )
        if password:  # the URL's password is the one that holds, also after it was changed
            cursor.execute(f"ALTER ROLE {name} PASSWORD %s", [password])
        tables, sequences = "SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT, UPDATE"
        cursor.execute(f"GRANT {tables} ON ALL TABLES IN SCHEMA public TO {name}")
        cursor.execute(f"GRANT {sequences} ON ALL SEQUENCES IN SCHEMA public TO {name}")
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {tables} ON TABLES TO {name}")
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {sequences} ON SEQUENCES TO {name}")
        cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {AUDIT_TABLE} FROM {name}")
