"""Celery tasks for patient messages: thin, by id, safe to run twice (see scheduling/reminders/)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scheduling.reminders.sending import notification_send_many, notifications_dispatch_due


@shared_task(name="scheduling.notifications_dispatch_due")
def notifications_dispatch_due_task(now: str | None = None) -> int:
    """Every minute (beat): write due maintenance recalls, claim every due row and queue their sends.

    ``now`` (ISO 8601) lets a caller run the claim for a given moment; the beat passes nothing.
    Only due rows are queued: a reminder days ahead waits in the database, never in the broker.
    """
    moment = parse_datetime(now) if now else timezone.now()
    return notifications_dispatch_due(now=moment, enqueue=notification_send_task.delay)


@shared_task(name="scheduling.notification_send")
def notification_send_task(notification_ids: list[int] | int) -> dict[str, int]:
    """Send claimed rows by id, each on its own (a lone id is what tasks queued before batching carry).

    Rows not reached within the batch's time budget go on in a new task, still claimed.
    """
    ids = [notification_ids] if isinstance(notification_ids, int) else notification_ids
    outcomes, rest = notification_send_many(notification_ids=ids)
    if rest:
        notification_send_task.delay(rest)
    return dict(outcomes)
