"""A transaction PostgreSQL rolls back to break a deadlock runs again, on a real server."""

import threading

import pytest
from django.db import OperationalError, connection, transaction

from clinic.models import Location
from clinic.transactions import retried_on_deadlock
from tests.factories import make_clinic

pytestmark = pytest.mark.django_db(transaction=True)


def _lock_both(first: int, second: int, barrier: threading.Barrier, attempts: list[str], name: str, retried: bool):
    """Lock ``first``, wait until the other thread holds its first row, then lock ``second``."""

    def body():
        attempts.append(name)
        Location.objects.select_for_update().get(pk=first)
        if attempts.count(name) == 1:
            barrier.wait(timeout=10)
        Location.objects.select_for_update().get(pk=second)

    work = transaction.atomic(body)
    return retried_on_deadlock(work) if retried else work


def _crossed(retried: bool) -> tuple[list[str], list[BaseException]]:
    one, two = make_clinic().location.pk, make_clinic().location.pk
    barrier, attempts, errors = threading.Barrier(2), [], []

    def run(name, first, second):
        try:
            _lock_both(first, second, barrier, attempts, name, retried)()
        except BaseException as error:  # noqa: BLE001 - the test reads it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=("a", one, two)), threading.Thread(target=run, args=("b", two, one))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return attempts, errors


def test_without_the_retry_one_side_of_a_deadlock_fails():
    attempts, errors = _crossed(retried=False)
    assert len(errors) == 1 and isinstance(errors[0], OperationalError)
    assert errors[0].__cause__.pgcode == "40P01"
    assert sorted(attempts) == ["a", "b"]


def test_the_deadlocks_victim_runs_again_and_both_finish():
    attempts, errors = _crossed(retried=True)
    assert errors == []
    assert sorted(attempts) in (["a", "a", "b"], ["a", "b", "b"])


def test_inside_an_outer_transaction_the_error_goes_up():
    calls = []

    @retried_on_deadlock
    def victim():
        calls.append(1)
        with connection.cursor() as cursor:
            cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$")

    with pytest.raises(OperationalError), transaction.atomic():
        victim()
    assert calls == [1]
