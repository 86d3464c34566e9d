"""The front desk: the admin of courses, appointments, session records and the outbox, and the day
schedule, day sheet, course booking and move pages inside it."""
