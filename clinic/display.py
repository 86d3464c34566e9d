"""How staff read a stored time on every screen: the location's wall clock, with its zone named.

Times are stored in UTC and a page must never let Django convert them again (to the server's or
the user's zone): these functions return text, so the admin, the day sheet, the progress pages and
the lists show the same thing for the same session.
"""

from __future__ import annotations

from datetime import datetime

from clinic.models import Location

DATE_TIME = "%a %d %b %Y %H:%M"


def location_time(location: Location, moment: datetime, fmt: str = DATE_TIME) -> str:
    """'Tue 15 Dec 2026 14:30 EST': ``moment`` on the location's clock, then its zone's abbreviation."""
    local = location.local(moment)
    return f"{local.strftime(fmt)} {local:%Z}"


def location_time_range(location: Location, starts_at: datetime, ends_at: datetime) -> str:
    """'14:30-15:00 EST' (the zone of the end, which is the start's but across a clock change)."""
    return f"{location.local(starts_at):%H:%M}-{location_time(location, ends_at, '%H:%M')}"


def location_zone(location: Location, moment: datetime) -> str:
    """'America/Toronto (EST)': the zone's name and its abbreviation at ``moment``."""
    return f"{location.time_zone} ({location.local(moment):%Z})"
