"""Bounces: delivery status notifications (RFC 3464) that mail servers send back to the bounce address.

Patient emails go out with IONTO_BOUNCE_ADDRESS as their envelope sender (Return-Path), so a mail
server that cannot deliver one reports it there. The clinic's mail system hands each message that
arrives at that address to ``manage.py notifications_read_bounce`` (on standard input). A report of
a permanent failure (Action: failed, Status 5.x.x) of one of our messages, found by the Message-ID of
the returned headers, marks the patient's address as failing (the front desk sees it on the patient)
and the message as failed; no more email goes to that address until it is changed. Delays (4.x.x,
Action: delayed) and messages that are not reports, or not about our messages, change nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from django.db import transaction

from patients.services import patient_mark_email_failing
from scheduling.models import Notification, NotificationStatus

# How a message failed by a bounce report begins its last error (the reports count them by it).
BOUNCED = "Bounced:"

logger = logging.getLogger(__name__)


@dataclass
class HardBounce:
    recipient: str
    status: str
    diagnostic: str


def _fields(block) -> dict[str, str]:
    """A delivery-status block as lower-case field names to values."""
    return {name.lower(): str(value).strip() for name, value in block.items()}


def _address(value: str) -> str:
    """``rfc822; patient@example.org`` -> ``patient@example.org``."""
    return value.split(";", 1)[-1].strip().strip("<>")


def bounce_report_read(*, raw: bytes) -> tuple[str, list[HardBounce]]:
    """(the returned message's Message-ID, its permanent failures) of a DSN; ("", []) for anything else."""
    report = message_from_bytes(raw, policy=policy.default)
    if report.get_content_type() != "multipart/report" or report.get_param("report-type") != "delivery-status":
        return "", []
    message_id, failures = "", []
    for part in report.iter_parts():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            # The first block is about the message, each further one about a recipient (RFC 3464, 2.1).
            for block in [_fields(block) for block in part.get_payload()][1:]:
                status = block.get("status", "")
                if block.get("action", "").lower() == "failed" and status.startswith("5"):
                    failures.append(HardBounce(
                        recipient=_address(block.get("final-recipient") or block.get("original-recipient", "")),
                        status=status, diagnostic=block.get("diagnostic-code", "")))
        elif kind in ("text/rfc822-headers", "message/rfc822"):
            returned = part.get_payload()[0] if kind == "message/rfc822" else message_from_bytes(
                part.get_payload(decode=True) or b"", policy=policy.default)
            if isinstance(returned, EmailMessage):
                message_id = str(returned.get("Message-ID", "")).strip()
    return message_id, failures


def notification_record_bounce(*, raw: bytes) -> list[int]:
    """Apply a DSN: each hard bounce of one of our messages marks its patient's email as failing and the
    message as failed. Returns the ids of the notifications it concerned."""
    message_id, failures = bounce_report_read(raw=raw)
    if not message_id or not failures:
        return []
    marked = []
    with transaction.atomic():
        row = (Notification.objects.select_for_update().select_related("patient")
               .filter(message_id=message_id).first())
        if row is None:
            logger.info("bounce report for a message that is not ours: %s", message_id)
            return []
        for failure in failures:
            text = f"{BOUNCED} {failure.status} {failure.diagnostic}".strip()
            if patient_mark_email_failing(patient=row.patient, address=failure.recipient, failure=text):
                row.status = NotificationStatus.FAILED
                row.last_error = f"{text} (reported by the patient's mail server after it was sent)"
                row.save(update_fields=["status", "last_error", "updated_at"])
                marked.append(row.pk)
    return marked
