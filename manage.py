#!/usr/bin/env python
"""Django's command-line utility; starts the embedded PostgreSQL when DATABASE_URL is unset, and stops
it again after the command when the command started it (so `make test` leaves nothing running)."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    started = False
    if not os.environ.get("DATABASE_URL"):
        from devtools import embedded

        started = embedded.ensure_running()
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    finally:
        if started:
            embedded.stop()


if __name__ == "__main__":
    main()
