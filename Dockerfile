# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=clinic.settings.production

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# collectstatic imports production settings, which refuse to start without a key, a database, a shared
# cache and a mail relay; these exist only during the build (nothing is connected to).
RUN DJANGO_SECRET_KEY="build-only-$(python -c 'import secrets; print(secrets.token_hex(32))')" \
    DATABASE_URL=postgres://build@localhost/build CACHE_URL=file:///tmp/build-cache EMAIL_HOST=build.invalid \
    python manage.py collectstatic --noinput \
 && useradd --system --uid 1000 ionto && chown -R ionto /app
USER ionto

EXPOSE 8000
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-", "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s\" %(s)s %(b)s %(M)sms"]
