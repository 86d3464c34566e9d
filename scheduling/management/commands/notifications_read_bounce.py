"""Read one bounce report (a delivery status notification, RFC 3464) from standard input.

The clinic's mail system runs it for each message arriving at IONTO_BOUNCE_ADDRESS, e.g. a Postfix
alias ``ionto-bounces: "|/app/manage.py notifications_read_bounce"`` or fetchmail's ``--mda``.
It exits 0 for any message it could read (a report about someone else's mail is no error), so the
mail system does not bounce the bounce.
"""

import sys

from django.core.management.base import BaseCommand

from scheduling.reminders.bounces import notification_record_bounce


class Command(BaseCommand):
    help = "Read a bounce report from standard input and mark the patient's email address as failing."

    def handle(self, *args, **options):
        marked = notification_record_bounce(raw=sys.stdin.buffer.read())
        self.stdout.write(f"Bounce report read: {len(marked)} message{'s' if len(marked) != 1 else ''} "
                          f"marked failed{': ' + ', '.join(map(str, marked)) if marked else ''}.")
