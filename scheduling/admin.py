"""Django's admin autodiscovery imports this module: the admins themselves live in scheduling/desk/."""

from scheduling.desk import admin_appointments, admin_courses, admin_notifications, admin_records  # noqa: F401
from scheduling.waitlist import admin as waitlist_admin  # noqa: F401
