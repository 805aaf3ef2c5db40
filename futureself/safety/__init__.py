"""Crisis handling: the deterministic phrase check, optional moderation, the
crisis response, and the post-check of generated sentences.

Entry points for the apps: ``safety_screen`` / ``asafety_screen`` on every
user message, ``check_output`` on every generated sentence before TTS.
"""

from futureself.safety.checker import SafetyVerdict, check_text
from futureself.safety.moderation import assess, moderate
from futureself.safety.output import OutputVerdict, check_output
from futureself.safety.response import crisis_resources, safety_payload, safety_ws_event

__all__ = [
    "OutputVerdict",
    "SafetyVerdict",
    "assess",
    "check_output",
    "check_text",
    "crisis_resources",
    "moderate",
    "safety_payload",
    "safety_ws_event",
]
