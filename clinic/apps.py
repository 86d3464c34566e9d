from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


def _sync_role_groups(sender, using="default", **kwargs):
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    from clinic.roles import groups_sync

    # Apps after this one get their permissions later in the same signal; make them now (idempotent).
    for app_config in apps.get_app_configs():
        if app_config.models_module is not None:
            create_permissions(app_config, verbosity=0, using=using)
    groups_sync()


def _access_changed(sender, update_fields=None, **kwargs):
    """A user, member of staff, their locations or a location changed: the cached access is stale.
    A sign-in's own save of ``last_login`` changes nothing any request reads for access."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    from clinic.services import access_changed

    access_changed()


def _setup_changed(sender, update_fields=None, **kwargs):
    """A location, a clinician, their name or locations, a room, a device, opening or working hours changed: the
    slot engine's cached set-up of every location is stale (scheduling.engine.setup)."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    from clinic.services import setup_changed

    setup_changed()


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        # After every migrate (and a test database flush): the role groups hold every model's permissions.
        post_migrate.connect(_sync_role_groups, sender=self, dispatch_uid="clinic_role_groups")
        from clinic.models import Clinician, Device, Location, OpeningHours, Room, Staff, WorkingHours

        # A proxy's save signals name the proxy (Clinician), not Staff: both are listened to.
        for model in (settings.AUTH_USER_MODEL, Staff, Clinician, Location):
            post_save.connect(_access_changed, sender=model, dispatch_uid=f"clinic_access_saved_{model}")
            post_delete.connect(_access_changed, sender=model, dispatch_uid=f"clinic_access_deleted_{model}")
        m2m_changed.connect(_access_changed, sender=Staff.locations.through, dispatch_uid="clinic_access_locations")
        for model in (settings.AUTH_USER_MODEL, Staff, Clinician, Location, Room, Device, OpeningHours, WorkingHours):
            post_save.connect(_setup_changed, sender=model, dispatch_uid=f"clinic_setup_saved_{model}")
            post_delete.connect(_setup_changed, sender=model, dispatch_uid=f"clinic_setup_deleted_{model}")
        m2m_changed.connect(_setup_changed, sender=Staff.locations.through, dispatch_uid="clinic_setup_locations")
