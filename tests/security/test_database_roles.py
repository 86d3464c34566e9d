"""The application's database login owns nothing: it can add to the audit trail and read it, never
truncate, alter, delete or switch off its triggers (issue 19, point 2).

The suite's own connection is the runtime role (tests/conftest.py); the owner is the login the
settings name (DATABASE_URL, or the embedded server's superuser), which made and migrated the tables.
"""

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from patients.models import AuditEvent
from tests.conftest import _OWNER, runtime_login, server_url
from tests.factories import make_clinic, make_patient

pytestmark = pytest.mark.django_db


def _owner_connection():
    db = connection.settings_dict
    conn = psycopg2.connect(dbname=db["NAME"], user=_OWNER[0], password=_OWNER[1], host=db["HOST"] or None,
                            port=db["PORT"] or None)
    with conn.cursor() as cursor:
        cursor.execute("SET lock_timeout = '10s'")
    return conn


@pytest.mark.parametrize(("statement", "refusal"), [
    ("TRUNCATE patients_auditevent CASCADE", "permission denied for table patients_auditevent"),
    ("ALTER TABLE patients_auditevent DISABLE TRIGGER patients_auditevent_append_only",
     "must be owner of table patients_auditevent"),
    ("ALTER TABLE patients_auditevent DISABLE TRIGGER ALL", "must be owner of table patients_auditevent"),
    ("SET session_replication_role = replica", 'permission denied to set parameter "session_replication_role"'),
    ("DROP TRIGGER patients_auditevent_append_only ON patients_auditevent",
     "must be owner of relation patients_auditevent"),
    ("DROP TRIGGER patients_auditevent_no_truncate ON patients_auditevent",
     "must be owner of relation patients_auditevent"),
    ("UPDATE patients_auditevent SET actor_label = 'someone else'", "permission denied for table patients_auditevent"),
    ("DELETE FROM patients_auditevent", "permission denied for table patients_auditevent"),
])
def test_the_runtime_role_cannot_truncate_alter_bypass_or_change_the_audit_trail(statement, refusal):
    patient = make_patient(make_clinic(), screened=False)
    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert str(refused.value).strip() == refusal
    assert AuditEvent.objects.filter(patient=patient).count() == 1


def test_the_runtime_role_adds_to_the_audit_trail_and_reads_it():
    clinic = make_clinic()
    patient = make_patient(clinic, screened=False)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO patients_auditevent (at, actor_label, action, via, object_type, object_id, "
                       "changes, user_agent, patient_id) "
                       "VALUES (now(), 'probe', 'read', 'service', 'patient', %s, '{}', '', %s)",
                       [str(patient.pk), patient.pk])
    assert list(AuditEvent.objects.filter(patient=patient).order_by("id").values_list("action", "actor_label")) == [
        ("create", clinic.front_desk.user.username), ("read", "probe")]


def test_the_runtime_role_owns_nothing_and_may_truncate_nothing():
    user, _password = runtime_login()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
                       "pg_has_role(current_user, %s, 'MEMBER') FROM pg_roles WHERE rolname = current_user",
                       [_OWNER[0]])
        role = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles "
                       "WHERE rolname = current_user)")
        owned = cursor.fetchone()[0]
        tables = "FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        cursor.execute(f"SELECT relname {tables} AND has_table_privilege(oid, 'TRUNCATE')")
        truncatable = cursor.fetchall()
        cursor.execute(f"SELECT count(*) {tables} AND NOT has_table_privilege(oid, 'SELECT, INSERT')")
        unreadable = cursor.fetchone()[0]
    assert role == (user, False, False, False, False, False)
    assert (owned, truncatable, unreadable) == (0, [], 0)


@pytest.mark.django_db(transaction=True)
def test_the_audit_trail_refuses_truncate_and_changes_even_to_its_owner():
    patient = make_patient(make_clinic(), screened=False)
    owner = _owner_connection()
    try:
        for statement in ("TRUNCATE patients_auditevent CASCADE", "UPDATE patients_auditevent SET actor_label = 'x'",
                          "DELETE FROM patients_auditevent"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege) as refused, owner, owner.cursor() as cursor:
                cursor.execute(statement)
            assert str(refused.value).splitlines()[0] == (
                f"the audit trail is append-only: {statement.split()[0]} refused")
    finally:
        owner.close()
    assert AuditEvent.objects.filter(patient=patient).count() == 1


def test_a_table_a_later_migration_makes_is_granted_to_the_runtime_role_by_default():
    """The owner's default privileges: a new table is the runtime role's to use, never to truncate."""
    user, _password = runtime_login()
    owner = _owner_connection()
    try:
        with owner, owner.cursor() as cursor:
            cursor.execute("CREATE TABLE later_migration_probe (id bigserial PRIMARY KEY)")
            cursor.execute("SELECT privilege_type FROM information_schema.role_table_grants "
                           "WHERE table_name = 'later_migration_probe' AND grantee = %s ORDER BY 1", [user])
            granted = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT has_sequence_privilege(%s, 'later_migration_probe_id_seq', 'USAGE')", [user])
            sequence = cursor.fetchone()[0]
            owner.rollback()
    finally:
        owner.close()
    assert (granted, sequence) == (["DELETE", "INSERT", "SELECT", "UPDATE"], True)


def test_granting_refuses_a_runtime_url_that_logs_in_as_the_owner(settings):
    settings.DATABASE_RUNTIME_URL = server_url(connection.settings_dict["NAME"])
    with pytest.raises(CommandError) as refused:
        call_command("grant_runtime_role")
    assert str(refused.value) == (
        f"The runtime database role {_OWNER[0]} must not be a superuser nor the owner (or a member of it): "
        "give DATABASE_RUNTIME_URL a login of its own.")
