"""Load the made-up demo clinic (idempotent) and print the demo logins."""

from django.core.management.base import BaseCommand

from scheduling import demo


class Command(BaseCommand):
    help = "Create the demo clinic and its logins once; print the logins."

    def handle(self, *args, **options):
        logins = demo.demo_load()
        self.stdout.write("Demo logins (made up; stored in .data/demo-logins.txt):")
        for username, password, role, where in logins:
            self.stdout.write(f"  {role:<11} {username:<12} {password:<18} {where}")
