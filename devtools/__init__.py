"""Tools for development and the tests, never for production: the embedded PostgreSQL, the local mail
catcher and `make run`'s runner. Production settings, the web application and the Celery tasks import
none of it (tests/clinic/test_deployment.py), and the Docker image leaves it out (.dockerignore)."""
