"""Booking: courses and appointments, the rules that refuse a booking, and their reads."""
