"""Suite-wide set-up: the embedded PostgreSQL when DATABASE_URL is unset, and live-process helpers."""

import os
import socket

import pytest

if not os.environ.get("DATABASE_URL"):
    # The test runner is a command that needs the database: start the embedded server before
    # pytest-django creates the test database (settings only point at it).
    from clinic import embedded

    embedded.ensure_running()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Staff are made with passwords in most tests; the production hasher's cost buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
