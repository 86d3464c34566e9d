"""Managers' reports: utilization, attendance, courses and outcomes, reminders (docs/reports.md)."""
