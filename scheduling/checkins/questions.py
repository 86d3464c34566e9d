"""The questions a check-in page asks, worded for patients from their published sources (docs/clinicians.md).

HDSS: the four statements of the Hyperhidrosis Disease Severity Scale (Solish et al., Dermatol Surg 2007;
33:908-923, for the Canadian Hyperhidrosis Advisory Committee); the question says "your sweating" where the
published one says "your hyperhidrosis", a word patients may not use.
Pain: the 11-point numeric rating scale (NPRS) as Hawker et al. (Arthritis Care Res 2011;63 Suppl 11:
S240-S252) describe it: 0 "no pain" to 10 "worst imaginable pain", over the last 24 hours.
"""

from __future__ import annotations

from scheduling.checkins.models import SkinReaction

HDSS_QUESTION = "How would you rate the severity of your sweating?"
HDSS_ANSWERS = (
    (1, "My sweating is never noticeable and never interferes with my daily activities."),
    (2, "My sweating is tolerable but sometimes interferes with my daily activities."),
    (3, "My sweating is barely tolerable and frequently interferes with my daily activities."),
    (4, "My sweating is intolerable and always interferes with my daily activities."),
)
PAIN_QUESTION = ("On a scale from 0 to 10, where 0 is no pain and 10 is the worst imaginable pain, "
                 "what number best describes your pain on average over the last 24 hours?")
PAIN_ANSWERS = tuple((number, {0: "0: no pain", 10: "10: worst imaginable pain"}.get(number, str(number)))
                     for number in range(11))
SKIN_QUESTION = "Any skin reaction where you were treated since your last session? (optional)"
SKIN_ANSWERS = tuple((reaction.value, reaction.label) for reaction in SkinReaction)
