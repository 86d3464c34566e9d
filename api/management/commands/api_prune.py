"""``python manage.py api_prune``: drop expired API tokens and idempotency answers past their window."""

from django.core.management.base import BaseCommand

from api.services import idempotency_key_prune, token_prune


class Command(BaseCommand):
    help = "Delete API tokens expired or revoked over a day ago and Idempotency-Key answers older than 24 hours."

    def handle(self, *args, **options):
        keys = idempotency_key_prune()
        tokens = token_prune()
        self.stdout.write(f"Deleted {keys} idempotency answers and {tokens} tokens.")
