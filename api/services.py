"""Writes of the API's own records: tokens and idempotency keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from api.models import ApiToken, IdempotencyKey
from clinic.services import access_changed

IDEMPOTENCY_WINDOW = timedelta(hours=24)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


@transaction.atomic
def token_issue(*, user) -> IssuedToken:
    """A new bearer token for the user; the caller sees it once, the database keeps its digest."""
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(hours=getattr(settings, "IONTO_API_TOKEN_HOURS", 24 * 30))
    expires_at = timezone.now() + lifetime
    ApiToken.objects.create(user=user, digest=token_digest(token), expires_at=expires_at)
    return IssuedToken(token=token, expires_at=expires_at)


@transaction.atomic
def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    access_changed()  # the cached lookup of this token must not answer again


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\n", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def idempotency_key_claim(*, user, key: str, fingerprint: str) -> IdempotencyKey:
    """Take the (user, key) row inside the caller's transaction, or wait for whoever holds it.

    Returns the row locked by this transaction: fresh (``status_code`` None) when this request must
    run, or the stored first answer. PostgreSQL's unique index makes a concurrent second request
    wait until the first commits; ``ON CONFLICT DO NOTHING`` then lets it read that answer.
    """
    assert connection.in_atomic_block, "claim the key in the transaction that does the work"
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IdempotencyKey._meta.db_table} "  # noqa: S608  # the table name is ours  # nosec B608
            "(user_id, key, fingerprint, status_code, response_body, response_headers, created_at, updated_at) "
            "VALUES (%s, %s, %s, NULL, NULL, '{}'::jsonb, %s, %s) ON CONFLICT (user_id, key) DO NOTHING",
            [user.pk, key, fingerprint, now, now],
        )
    row = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
    if row.status_code is not None and row.created_at < now - IDEMPOTENCY_WINDOW:
        # Older than the window: the key starts over as if never used.
        row.fingerprint, row.status_code, row.response_body, row.response_headers = fingerprint, None, None, {}
        row.created_at = now
        row.save()
    return row


def idempotency_key_store(*, row: IdempotencyKey, status_code: int, body, headers: dict[str, str]) -> None:
    row.status_code = status_code
    row.response_body = body
    row.response_headers = headers
    row.save(update_fields=["status_code", "response_body", "response_headers", "updated_at"])


def idempotency_key_prune(*, now: datetime | None = None) -> int:
    """Delete the kept answers older than the 24-hour window; they would never be replayed again."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_WINDOW
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def token_prune(*, now: datetime | None = None) -> int:
    """Delete tokens that expired or were revoked more than a day ago."""
    cutoff = (now or timezone.now()) - timedelta(days=1)
    deleted, _ = ApiToken.objects.filter(expires_at__lt=cutoff).delete()
    revoked, _ = ApiToken.objects.filter(revoked_at__lt=cutoff).delete()
    if deleted or revoked:
        access_changed()
    return deleted + revoked
