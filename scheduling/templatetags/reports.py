"""``{% load reports %}``: whether the signed-in user sees the managers' reports (for the links to them)."""

from django import template

from scheduling.reports.selectors import report_access_allowed

register = template.Library()


@register.filter
def sees_reports(user) -> bool:
    return report_access_allowed(user=user)
