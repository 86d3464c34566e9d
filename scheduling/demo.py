"""The demo clinic that `make run` loads: made-up people only, created through the services."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from clinic import embedded

LOGINS_FILE = embedded.DATA_DIR / "demo-logins.txt"
DEMO_USERS = [
    ("manager", "manager"),
    ("frontdesk", "front desk"),
    ("clinician", "clinician"),
]


def _demo_passwords() -> dict[str, str]:
    """Random passwords made on the first run and kept in .data/, never in the repository."""
    passwords: dict[str, str] = {}
    if LOGINS_FILE.exists():
        for line in LOGINS_FILE.read_text().splitlines():
            username, _, password = line.partition(" ")
            if username and password:
                passwords[username] = password
    for username, _role in DEMO_USERS:
        passwords.setdefault(username, secrets.token_urlsafe(12))
    LOGINS_FILE.parent.mkdir(parents=True, exist_ok=True)
    LOGINS_FILE.write_text("".join(f"{u} {p}\n" for u, p in passwords.items()))
    LOGINS_FILE.chmod(0o600)
    return passwords


@transaction.atomic
def demo_load() -> list[tuple[str, str, str]]:
    User = get_user_model()
    passwords = _demo_passwords()
    logins = []
    for username, role in DEMO_USERS:
        user, _created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
        user.set_password(passwords[username])
        user.is_staff = True
        user.is_superuser = role == "manager"
        user.save()
        logins.append((username, passwords[username], role))
    return logins
