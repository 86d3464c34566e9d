from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_role_groups(sender, using="default", **kwargs):
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    from clinic.roles import groups_sync

    # Apps after this one get their permissions later in the same signal; make them now (idempotent).
    for app_config in apps.get_app_configs():
        if app_config.models_module is not None:
            create_permissions(app_config, verbosity=0, using=using)
    groups_sync()


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        # After every migrate (and a test database flush): the role groups hold every model's permissions.
        post_migrate.connect(_sync_role_groups, sender=self, dispatch_uid="clinic_role_groups")
