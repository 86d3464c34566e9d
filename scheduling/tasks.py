"""Celery tasks: thin, by id, safe to run twice (patient messages: scheduling/reminders/).

The dispatch runs on the default queue and the sends on their own (settings: IONTO_SEND_QUEUE),
served by a worker with a thread pool, so the beat's dispatch never waits behind sends.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scheduling.checkins.services import check_ins_plan_periodic
from scheduling.reminders.sending import notification_send_many, notifications_dispatch_due
from scheduling.reports.usage import usage_weeks_count


def _queue_sends(notification_ids: list[int], claimed_at) -> None:
    notification_send_task.delay(notification_ids, claimed_at.isoformat())


@shared_task(name="scheduling.notifications_dispatch_due")
def notifications_dispatch_due_task(now: str | None = None) -> int:
    """Every minute (beat): write due maintenance recalls, claim every due row and queue their sends.

    ``now`` (ISO 8601) lets a caller run the claim for a given moment; the beat passes nothing.
    Only due rows are queued: a reminder days ahead waits in the database, never in the broker.
    """
    moment = parse_datetime(now) if now else timezone.now()
    return notifications_dispatch_due(now=moment, enqueue=_queue_sends)


@shared_task(name="scheduling.notification_send")
def notification_send_task(notification_ids: list[int], claimed_at: str) -> dict[str, int]:
    """Send the rows of one claim (``claimed_at``, ISO 8601) by id, each on its own, over one connection."""
    return dict(notification_send_many(notification_ids=notification_ids, claimed_at=parse_datetime(claimed_at)))


@shared_task(name="scheduling.check_ins_plan_periodic")
def check_ins_plan_periodic_task(now: str | None = None) -> int:
    """Every hour (beat): the next periodic check-in of each patient waiting for maintenance (its email
    waits in the outbox for its day)."""
    return check_ins_plan_periodic(now=parse_datetime(now) if now else timezone.now())


@shared_task(name="scheduling.usage_weeks_count", autoretry_for=(OperationalError,), retry_backoff=60, max_retries=3)
def usage_weeks_count_task(now: str | None = None) -> int:
    """Every hour (beat): count the sessions of each week not counted yet (or forgotten since), for the
    utilization and attendance reports. Retried when the appointments stay locked by a long write (the lock
    wait runs out)."""
    return usage_weeks_count(now=parse_datetime(now) if now else timezone.now())
