"""Celery tasks for patient messages: thin, by id, safe to run twice (see scheduling.notifications)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scheduling import notifications


@shared_task(name="scheduling.notifications_dispatch_due")
def notifications_dispatch_due_task(now: str | None = None) -> int:
    """Every minute (beat): write due maintenance recalls, claim every due row and queue one send each.

    ``now`` (ISO 8601) lets a caller run the claim for a given moment; the beat passes nothing.
    Only due rows are queued: a reminder days ahead waits in the database, never in the broker.
    """
    moment = parse_datetime(now) if now else timezone.now()
    notifications.notification_write_maintenance_recalls(now=moment)
    queued = 0
    while True:
        ids = notifications.notification_claim_due(now=moment)
        for notification_id in ids:
            notification_send_task.delay(notification_id)
        queued += len(ids)
        if len(ids) < notifications.CLAIM_BATCH:
            return queued


@shared_task(name="scheduling.notification_send")
def notification_send_task(notification_id: int) -> str:
    return notifications.notification_send(notification_id=notification_id)
