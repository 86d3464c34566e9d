"""Report 4, reminders: the outbox's messages by kind and state, failures by reason, unsubscribes, and the
waitlist's offers sent, taken and expired (docs/reports.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Left
from django.utils import timezone

from patients.models import AuditAction, AuditEvent
from scheduling.models import (
    Course,
    Notification,
    NotificationStatus,
)
from scheduling.reminders.bounces import BOUNCED
from scheduling.reports.period import LocalDay, ReportPeriod, percent
from scheduling.waitlist.models import WaitlistOffer, WaitlistOfferStatus


def failure_reason() -> Case:
    """The kind of a failed message's last error, from the texts of
    ``scheduling.reminders.sending.smtp_failure``: the address refused, an invalid address, the server's SMTP
    code, or the error's name. Never the address itself, which the full text names."""
    return Case(
        When(last_error__startswith="Recipient refused:", then=Value("Recipient refused")),
        When(last_error__startswith="Invalid address:", then=Value("Invalid address")),
        When(last_error__regex=r"^SMTP [0-9]{3}", then=Left("last_error", 8)),
        default=Func(F("last_error"), Value(":"), Value(1), function="split_part", output_field=CharField()),
        output_field=CharField(),
    )


# One aggregate per figure. A bounced message is also failed: its mail server reported it after it was sent.
REMINDER_FIGURES = {
    "sent": Q(status=NotificationStatus.SENT),
    "failed": Q(status=NotificationStatus.FAILED),
    "bounced": Q(status=NotificationStatus.FAILED, last_error__startswith=BOUNCED),
    "cancelled": Q(status=NotificationStatus.CANCELLED),
    "waiting": Q(status__in=(NotificationStatus.PENDING, NotificationStatus.SENDING)),
}


def waitlist_figures(now) -> dict[str, Q]:
    """Offers sent in the period, taken (accepted) and expired (also one past its time that the beat has not
    marked yet)."""
    return {"sent": Q(), "taken": Q(status=WaitlistOfferStatus.ACCEPTED),
            "expired": Q(status=WaitlistOfferStatus.EXPIRED) | Q(status=WaitlistOfferStatus.OFFERED,
                                                                 expires_at__lte=now)}


@dataclass
class RemindersReport:
    period: ReportPeriod
    by_kind: list[dict]  # kind, label, sent, failed, bounced, cancelled, waiting
    totals: dict[str, int]
    failed_by_reason: list[dict]  # reason, messages
    unsubscribed: int
    waitlist_offers: dict[str, int] = field(default_factory=dict)  # sent, taken, expired
    summary: dict[str, float | int | None] = field(default_factory=dict)


def report_reminders(*, period: ReportPeriod) -> RemindersReport:
    """Messages due in the period by kind and state, failures by reason, patients who stopped emails, and the
    waitlist's offers sent in the period (four queries)."""
    rows = Notification.objects.filter(course__location_id__in=period.location_ids).order_by().annotate(
        local_due=LocalDay("due_at", "course__location__time_zone")).filter(
        local_due__gte=period.start, local_due__lte=period.end)
    labels = dict(Notification._meta.get_field("kind").choices)
    found = {values["kind"]: values for values in rows.values("kind").annotate(
        **{name: Count("pk", filter=condition) for name, condition in REMINDER_FIGURES.items()})}
    by_kind = [{"kind": kind, "label": label, **{name: found.get(kind, {}).get(name, 0) for name in REMINDER_FIGURES}}
               for kind, label in labels.items()]
    totals = {name: sum(row[name] for row in by_kind) for name in REMINDER_FIGURES}
    failed = list(rows.filter(REMINDER_FIGURES["failed"]).values(reason=failure_reason())
                  .annotate(messages=Count("pk")).order_by("-messages", "reason"))
    # A patient who stops emails (their unsubscribe link, or the desk) leaves an audit row of the change.
    stopped = AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_type="patient", changes__email_consent=[True, False],
        at__date__gte=period.start, at__date__lte=period.end)
    if period.location is not None:
        stopped = stopped.filter(Exists(Course.objects.filter(patient=OuterRef("patient"),
                                                              location_id__in=period.location_ids)))
    unsubscribed = stopped.aggregate(patients=Count("patient", distinct=True))["patients"]
    offers = (WaitlistOffer.objects.filter(slot__location_id__in=period.location_ids).order_by()
              .annotate(local_sent=LocalDay("created_at", "slot__location__time_zone"))
              .filter(local_sent__gte=period.start, local_sent__lte=period.end)
              .aggregate(**{name: Count("pk", filter=condition)
                            for name, condition in waitlist_figures(timezone.now()).items()}))
    report = RemindersReport(period=period, by_kind=by_kind, totals=totals, failed_by_reason=failed,
                             unsubscribed=unsubscribed, waitlist_offers=offers)
    report.summary = {**totals, "unsubscribed": unsubscribed,
                      "failed_percent": percent(totals["failed"], totals["sent"] + totals["failed"])}
    return report
