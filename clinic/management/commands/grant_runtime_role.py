"""Run as the owner after ``migrate``: make the runtime login of DATABASE_RUNTIME_URL and grant it what it needs."""

import dj_database_url
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from clinic.database_roles import runtime_role_grant


class Command(BaseCommand):
    help = "Make the runtime database role (DATABASE_RUNTIME_URL) and grant it the application's tables."

    def handle(self, *args, **options):
        if not settings.DATABASE_RUNTIME_URL:
            raise CommandError("DATABASE_RUNTIME_URL is unset: there is no runtime role to grant.")
        login = dj_database_url.parse(settings.DATABASE_RUNTIME_URL)
        try:
            runtime_role_grant(role=login["USER"], password=login["PASSWORD"])
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"The runtime role {login['USER']} may use the tables; it owns none.")
