"""The staff roles as Django groups: which admin pages and actions each role may use (DESIGN.md, Roles).

The groups are made by a data migration (clinic/migrations/0002_groups.py) and brought back in
line after every `migrate` (a post_migrate hook in clinic/apps.py), so a model added later gets
its permissions in the groups without another hand-written migration. A Staff's role puts the
user in the group of the same name (clinic.services.staff_create).
"""

from __future__ import annotations

from clinic.models import StaffRole

_VIEW = ("view",)
_EDIT = ("view", "add", "change")

# Nothing of the clinic's is deleted through the admin (records are archived, cancelled or
# withdrawn), so no role gets a delete permission on it.
_FRONT_DESK = {
    "clinic": dict.fromkeys(
        ("location", "room", "device", "staff", "clinician", "openinghours", "workinghours", "closure"), _VIEW),
    "patients": {"patient": _EDIT},
    "scheduling": {"course": _EDIT, "appointment": _EDIT, "notification": ("view", "change"),
                   "waitlistentry": _EDIT, "waitlistoffer": _VIEW},
}
_CLINICIAN = {
    "clinic": {**_FRONT_DESK["clinic"], "closure": _EDIT},
    "patients": {"patient": _EDIT, "screening": _EDIT},
    "scheduling": {**_FRONT_DESK["scheduling"], "sessionrecord": _EDIT, "sessionsite": _VIEW,
                   "sideeffect": _VIEW},
}
_MANAGER = {
    "auth": {"user": _VIEW},
    # Sign-in lockouts (django-axes): a manager sees them and lifts one by deleting it; they are
    # counts of failed sign-ins, not records of care.
    "axes": {"accessattempt": ("view", "delete")},
    "clinic": dict.fromkeys(_FRONT_DESK["clinic"], _EDIT),
    "patients": _CLINICIAN["patients"],
    "scheduling": _CLINICIAN["scheduling"],
}

ROLE_PERMISSIONS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    StaffRole.FRONT_DESK.label: _FRONT_DESK,
    StaffRole.CLINICIAN.label: _CLINICIAN,
    StaffRole.MANAGER.label: _MANAGER,
}


def _permissions_for(group_name: str, *, Permission):
    wanted = ROLE_PERMISSIONS[group_name]
    codenames = {(app, f"{action}_{model}") for app, models in wanted.items()
                 for model, actions in models.items() for action in actions}
    apps_wanted = {app for app, _ in codenames}
    found = Permission.objects.filter(content_type__app_label__in=apps_wanted).select_related("content_type")
    # A model not migrated yet (e.g. during an early migration) simply has no permission row to give.
    return [permission for permission in found if (permission.content_type.app_label, permission.codename)
            in codenames]


def groups_sync(*, Group=None, Permission=None) -> None:
    """Create the three role groups if missing and set exactly their permissions.

    Group/Permission may be historical models (inside a migration).
    """
    if Group is None or Permission is None:
        from django.contrib.auth.models import Group, Permission
    for name in ROLE_PERMISSIONS:
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions_for(name, Permission=Permission))


def group_for_role(role: str):
    """The group a Staff of this role belongs to (made on the spot if a flushed database lost it)."""
    from django.contrib.auth.models import Group, Permission

    name = StaffRole(role).label
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(_permissions_for(name, Permission=Permission))
    return group
