import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _import_production_settings(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(CACHE_URL="redis://127.0.0.1:6379/1", DATABASE_URL="postgres://ionto@127.0.0.1:5432/ionto",
                 EMAIL_HOST="relay.example.org")
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


def test_production_refuses_a_short_key():
    result = _import_production_settings(DJANGO_SECRET_KEY="too-short")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def _development_key(data_dir: Path) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(IONTO_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="clinic.settings")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.SECRET_KEY)"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout.strip()


def test_without_a_configured_key_each_installation_makes_its_own_and_keeps_it(tmp_path):
    first = _development_key(tmp_path / "one")
    assert len(first) >= 50
    assert _development_key(tmp_path / "one") == first
    assert (tmp_path / "one" / "secret-key").read_text().strip() == first
    assert (tmp_path / "one" / "secret-key").stat().st_mode & 0o077 == 0
    assert _development_key(tmp_path / "two") != first
    assert first not in "".join(path.read_text(errors="ignore") for path in ROOT.glob("*/settings/*.py"))


def test_production_refuses_to_start_without_a_shared_cache():
    result = _import_production_settings(DJANGO_SECRET_KEY="k" * 64, CACHE_URL="")
    assert result.returncode != 0
    assert "CACHE_URL must name the cache every web process shares in production" in result.stderr


def test_the_cache_is_shared_by_every_process_of_an_installation(settings):
    """Rate limits count in the cache: a count one web process keeps is seen by the others."""
    from django.core.cache import cache

    assert settings.CACHES["default"]["BACKEND"] in ("django.core.cache.backends.filebased.FileBasedCache",
                                                     "django.core.cache.backends.redis.RedisCache")
    cache.set("ionto-shared-check", "written by the test process", timeout=60)
    other = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.core.cache import cache; "
         "print(cache.get('ionto-shared-check'))"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings"}, capture_output=True, text=True,
        timeout=60, check=True,
    )
    assert other.stdout.strip() == "written by the test process"


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


def test_a_blank_variable_means_its_default_and_a_value_is_taken_as_written(monkeypatch):
    from clinic.settings import env, env_int, env_list

    monkeypatch.setenv("EMAIL_PORT", "")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "$ecret")
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "ionto.example.org, intranet.local,")
    assert env_int("EMAIL_PORT", 1025) == 1025
    assert env("EMAIL_HOST_PASSWORD") == "$ecret"
    assert env_list("DJANGO_ALLOWED_HOSTS") == ["ionto.example.org", "intranet.local"]


def _import_development_settings(**env):
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_a_mistyped_flag_or_number_stops_the_start_and_names_the_variable():
    assert "IONTO_MANAGER_2FA_REQUIRED must be true or false, not 'ture'" in _import_development_settings(
        IONTO_MANAGER_2FA_REQUIRED="ture").stderr
    assert "EMAIL_PORT must be a whole number, not '25x'" in _import_development_settings(EMAIL_PORT="25x").stderr
    assert "IONTO_DISPATCH_SECONDS must be between 10 and 3600" in _import_development_settings(
        IONTO_DISPATCH_SECONDS="5").stderr


def test_only_postgresql_and_a_redis_cache_are_accepted():
    assert "Ionto runs on PostgreSQL only: DATABASE_URL must be postgres://..." in _import_development_settings(
        DATABASE_URL="sqlite:///ionto.db").stderr
    refused = _import_development_settings(CACHE_URL="memcache://127.0.0.1:11211").stderr
    assert "CACHE_URL must name a Redis server (redis://host:6379/1) or a folder (file:///path), not " \
        "'memcache://127.0.0.1:11211'" in refused
