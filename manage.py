#!/usr/bin/env python
"""Django's command-line utility; starts the embedded PostgreSQL when DATABASE_URL is unset."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    if not os.environ.get("DATABASE_URL"):
        from devtools import embedded

        embedded.ensure_running()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
