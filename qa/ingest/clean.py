"""Find web-page leftovers in article text.

They stay in the text (so character offsets remain true to the source) and are returned as spans that
the chunker leaves out: nothing inside them can be retrieved, cited or quoted.
"""

from __future__ import annotations

import re

# Whole lines that are page furniture, not reporting. Each pattern is anchored to the full line.
_LINE_PATTERNS = [
    # [RELATED: ...], [POLL: ...], [PHOTOS: ...], [VIDEO] ...: bracketed cross-links.
    r"\[\s*(?:RELATED|POLL|PHOTOS?|VIDEOS?|SLIDESHOW|GALLERY|READ MORE|SEE ALSO|MORE|WATCH|LISTEN|"
    r"INFOGRAPHIC|CARTOON|TIMELINE|QUIZ|INTERACTIVE|ALSO READ)\b[^\]]*\]",
    # Byline widgets: "By + More", "By Jane Doe", "By Jane Doe and John Roe".
    r"By\s*\+\s*More",
    r"By(?:\s+[A-Z][\w'.-]*){1,4}(?:\s+and(?:\s+[A-Z][\w'.-]*){1,4})?",
    # Link lists and navigation.
    r"(?:More News|Related(?: Stories| Articles| Coverage)?|Read More|Recommended|Trending|Most Popular)\s*:.{0,80}",
    r"Advertisement",
    # Share bars and copyright lines.
    r"(?:Share|Tweet|Email|Print|Comments?)(?:\s*[|/·]\s*(?:Share|Tweet|Email|Print|Comments?))+",
    r"(?:©|Copyright\s+(?:©|\d{4})|\(c\)\s*\d{4}).{0,120}",
]
_LINE_RE = re.compile(r"^[ \t]*(?:" + "|".join(_LINE_PATTERNS) + r")[ \t]*$", re.MULTILINE)

# Subscription and sign-up pitches: a short line holding a call to action. Short, because a sentence
# of reporting can mention subscriptions; a pitch is a line of its own.
_PITCH_RE = re.compile(
    r"\b(?:LEARN MORE|SUBSCRIBE|SIGN UP|READ MORE|CLICK HERE|(?i:subscribe (?:now|today|to)|sign up (?:for|to|now)|"
    r"newsletter|free trial|log in to|already a subscriber|terms of (?:use|service)|privacy policy|"
    r"follow us on))\b",
)
_MAX_PITCH_LINE = 200


def leftover_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) spans of whole lines in `text` that are web-page leftovers, in order."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        stripped = body.strip()
        if stripped and _is_leftover(body, stripped):
            lead = len(body) - len(body.lstrip())
            spans.append((pos + lead, pos + lead + len(stripped)))
        pos += len(line)
    return tuple(spans)


def _is_leftover(body: str, stripped: str) -> bool:
    if _LINE_RE.fullmatch(body):
        return True
    return len(stripped) <= _MAX_PITCH_LINE and _PITCH_RE.search(stripped) is not None
