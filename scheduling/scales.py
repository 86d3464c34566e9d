"""The outcome scales' ranges (DESIGN.md, SessionRecord): the clinician's record and the patient's check-in
answer on the same scales. This module imports nothing, so every models module can import it."""

HDSS_MIN, HDSS_MAX = 1, 4  # Hyperhidrosis Disease Severity Scale
PAIN_NPRS_MAX = 10  # numeric pain rating scale, 0 to 10
