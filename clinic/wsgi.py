import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

application = get_wsgi_application()

# Everything loaded at start-up (Django, the apps, and every view, imported here through the URL
# conf rather than by the first request) lives as long as the process. Frozen out of the garbage
# collector, a full collection no longer walks it, so the rare full collection no longer stalls
# the request it falls in.
get_resolver().url_patterns  # noqa: B018
gc.freeze()
