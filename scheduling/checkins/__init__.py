"""Outcomes reported by patients between sessions and after a course (issue 23)."""
