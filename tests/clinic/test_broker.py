"""The database broker: processes that start together on a fresh queue do not crash each other."""

import multiprocessing
import uuid

import pytest
from django.conf import settings
from kombu import Connection

pytestmark = pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("ionto-db+"),
                                reason="only for the database broker")
PROCESSES = 6


def _declare(url, queue, barrier, results):
    from clinic import broker

    broker.register()
    with Connection(url) as connection:
        barrier.wait()
        try:
            results.put(connection.channel().queue_declare(queue=queue).queue)
        except Exception as error:  # the outcome under test
            results.put(type(error).__name__)


def declare_at_once(url: str) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    queue = f"ionto-race-{uuid.uuid4().hex[:10]}"
    workers = [context.Process(target=_declare, args=(url, queue, barrier, results)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    return [outcome == queue for outcome in outcomes]


def test_processes_declaring_one_new_queue_at_once_all_succeed():
    for _ in range(3):  # the race is a matter of timing: try it a few times
        assert declare_at_once(settings.CELERY_BROKER_URL) == [True] * PROCESSES

