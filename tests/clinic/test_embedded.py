import os

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_database_is_postgresql_with_btree_gist():
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        version = int(cursor.fetchone()[0])
        cursor.execute("SELECT name FROM pg_available_extensions WHERE name = 'btree_gist'")
        available = cursor.fetchone()
    assert connection.vendor == "postgresql"
    assert version >= 150000
    assert available == ("btree_gist",)


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs on the server DATABASE_URL names")
def test_embedded_server_is_postgresql_18_in_the_checkout():
    import psycopg2

    from devtools import embedded

    # The suite runs as the runtime role, which may not read the server's settings; the owner may.
    with psycopg2.connect(embedded.database_url()) as owner, owner.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        version = int(cursor.fetchone()[0])
        cursor.execute("SHOW data_directory")
        data_directory = cursor.fetchone()[0]
    owner.close()
    assert 180000 <= version < 190000
    assert os.path.realpath(data_directory) == str(embedded.PGDATA)
    assert embedded.is_running()
    # A second start finds it running and starts nothing.
    assert embedded.ensure_running() is False
