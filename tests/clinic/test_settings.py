import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _import_production_settings(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "clinic.settings.production"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _import_production_settings()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_key_and_short_keys():
    from clinic.settings import DEVELOPMENT_SECRET_KEY

    for key in (DEVELOPMENT_SECRET_KEY, "too-short"):
        result = _import_production_settings(DJANGO_SECRET_KEY=key)
        assert result.returncode != 0
        assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_debug():
    result = _import_production_settings(DJANGO_SECRET_KEY="k" * 64, DJANGO_DEBUG="true")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be off" in result.stderr


def test_production_starts_with_a_real_key_and_is_hardened():
    result = _import_production_settings(DJANGO_SECRET_KEY="k" * 64)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_debug_is_off_unless_asked(settings):
    from clinic.settings import env_bool

    assert os.environ.get("DJANGO_DEBUG") or settings.DEBUG is False
    assert env_bool("IONTO_UNSET_FLAG_FOR_TEST", False) is False
