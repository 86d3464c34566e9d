from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _token_changed(sender, created=False, **kwargs):
    """A token changed or went: the cached lookups are stale (a new one was never cached)."""
    if created:
        return
    from clinic.services import access_changed

    access_changed()


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"

    def ready(self):
        from api.models import ApiToken

        post_save.connect(_token_changed, sender=ApiToken, dispatch_uid="api_token_saved")
        post_delete.connect(_token_changed, sender=ApiToken, dispatch_uid="api_token_deleted")
