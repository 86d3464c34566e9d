"""Reminders: the notification outbox, sending, emails with calendar files, patient links and pages."""
