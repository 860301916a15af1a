"""What kind of answer a question wants, read from its words (rules; measured on labelled questions by
`python -m bench.open_answers`):

- fact: one thing (who, when, how many, what did she say): one sentence and its short answer;
- reason: why something happened: the sentence that says so, no short answer (a reason is a clause);
- list: an account of several things ("What did they discuss?", "What issues did they agree on?");
- comparison: of articles, periods or sides ("Compare the 2012 and 2013 meetings", "How did they differ?");
- summary: of an article or a topic ("Summarize the article about …", "What is this article about?");
- timeline: how a story developed over dated articles ("How did … develop?", "a timeline of …").

A question about one thing is a fact: the rules ask for the words that say otherwise, and a fact question sent to
another kind loses its short answer, so they err towards fact.
"""

from __future__ import annotations

import functools
import re

FACT, REASON, LIST, COMPARISON, SUMMARY, TIMELINE = "fact", "reason", "list", "comparison", "summary", "timeline"
KINDS = (FACT, REASON, LIST, COMPARISON, SUMMARY, TIMELINE)
OPEN = frozenset({LIST, COMPARISON, SUMMARY, TIMELINE})  # answered with several sentences

_I = re.IGNORECASE
_ARTICLE = r"(?:article|story|piece|report|news|coverage|articles|stories|pieces|reports)"
_SUMMARY = re.compile(
    r"\bsummar(?:y|ise|ize|ies|ising|izing)\b|\bsum (?:it |this |that )?up\b|\brecap\b|\bgist\b|\btl;?dr\b|"
    r"\b(?:main|key) (?:points|takeaways)\b|\boverview of\b|"
    rf"^\s*what(?:'s|’s| is| are| was| were) (?:this|that|the|these|those) {_ARTICLE} (?:all )?about\b|"
    rf"^\s*what do(?:es)? (?:this|that|the|these|those) {_ARTICLE} (?:say|report|tell us)\s*\??\s*$|"
    rf"^\s*tell me (?:about|what) (?:this|that|the|these|those) {_ARTICLE}\b",
    _I,
)
_TIMELINE = re.compile(
    r"\btime ?line\b|\bchronolog|\bover time\b|\b(?:sequence|series|order) of events\b|"
    r"\bhow (?:did|has|have|had) .+ (?:develop|developed|evolve|evolved|unfold|unfolded|progress|progressed)\b|"
    r"\bhow (?:did|has|have|had) (?:the |their |this |that )?(?:story|situation|relationship|relations|"
    r"ties|talks|conflict|crisis|dispute|case) .*\bchange[ds]?\b|"
    r"\bwhat happened (?:between|since|from) .+ (?:to|until|and)\b|\bstep by step\b",
    _I,
)
_YEARS_BOTH = re.compile(r"\b(?:19|20)\d\d\b,? (?:and|vs\.?|versus) (?:in )?\b(?:19|20)\d\d\b", _I)
# Asking to compare, not a fact question with a comparison inside ("How populous is Victoria compared to …?",
# "What was the age difference …?"): the question opens with it, or asks how things differ, or for the
# differences or similarities.
_COMPARISON = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:compare|contrast)\b|"
    r"\bhow (?:did|do|does|is|are|was|were|have|has) .+ (?:differ|compare)\b|"
    r"\b(?:what|which) (?:were|are|was|is) the (?:main |key |biggest )?(?:differences|similarities)\b|"
    r"\bhow (?:similar|different) (?:were|are|was|is)\b|\bin what ways?\b.+\b(?:differ|alike|similar)\b|"
    r"\bwhat do .+ have in common\b",
    _I,
)
# "What did they discuss (at the summit)?": an account verb ends the question, or only when and where follow it;
# "What issues/topics …" asks for several. "What did X say …" asks for a quote: a fact.
_ACCOUNT = (
    r"discuss|discussed|talk about|talked about|agree on|agreed on|agree to|agreed to|agree upon|agreed upon|"
    r"debate|debated|accomplish|accomplished|achieve|achieved|decide|decided|"
    r"pledge|pledged|promise|promised|announce|announced|propose|proposed"
)
_ACCOUNT_VERB = rf"(?:{_ACCOUNT})"
_SEVERAL = r"(?:issues|topics|subjects|matters|things|measures|steps|points|agreements|proposals|plans|policies)"
_TAIL = r"(?:\s+(?:at|in|on|during|when|while|after|before|with|last|this|since|over)\b[^?]*)?\s*\??\s*$"
_LIST = re.compile(
    rf"^\s*(?:[^?]*,\s*)?(?:what|which)\s+(?:(?:main |key |major )?{_SEVERAL}\s+)?"
    rf"(?:did|do|does|have|has|had|will|would|were|are)\s+"
    rf"[^?]+?\s+{_ACCOUNT_VERB}{_TAIL}|"
    r"\bwhat (?:were|are|was|is) the (?:main |key |major )?(?:issues|topics|subjects|points|outcomes|results|"
    r"agreements|measures|steps|terms|proposals)\b|"
    rf"^\s*(?:what|which) (?:main |key |major )?{_SEVERAL}\b",
    _I,
)
_SAID = re.compile(rf"\b(?:say|said|{_ACCOUNT})\b", _I)  # what was said or done in two years: compared
_REASON = re.compile(
    r"^\s*(?:[^?]*[.?]\s+)?why\b|\bwhy (?:did|do|does|is|are|was|were|has|have|had|would|will|can|could)\b|"
    r"\bfor what reasons?\b|\bhow come\b|\bwhat (?:was|were|is|are) the (?:main )?reasons?\b",
    _I,
)


@functools.lru_cache(maxsize=1024)
def answer_kind(question: str) -> str:
    """The kind of answer `question` wants (one of KINDS)."""
    if _SUMMARY.search(question):
        return SUMMARY
    if _TIMELINE.search(question):
        return TIMELINE
    if _COMPARISON.search(question) or (_YEARS_BOTH.search(question) and _SAID.search(question)):
        return COMPARISON
    if _LIST.search(question):
        return LIST
    if _REASON.search(question):
        return REASON
    return FACT


_FORM_WORDS = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:summari[sz]e|give (?:me )?(?:a |an )?(?:summary|overview|"
    r"timeline|recap) of|sum up|recap|compare|contrast|tell me about|(?:make|draw up|give) (?:me )?a timeline of)"
    r"\s+|"
    rf"\b(?:what(?:'s|’s| is| are| was| were) )?(?:the|this|that|these|those) (?:[\w.&'’-]+ ){{0,4}}?{_ARTICLE} "
    r"(?:about|on|of)\b\s*|"
    r"\ba timeline of\s+|\bin (?:a )?(?:timeline|summary)\b",
    _I,
)


_HOW_DID = re.compile(
    r"^\s*how (?:did|has|have|had|do|does|is|are|was|were) (?P<subject>.+?) (?:develop|developed|evolve|evolved|"
    r"unfold|unfolded|progress|progressed|change|changed|differ|differed|compare|compared)\b(?P<rest>.*)$",
    _I,
)
_RANGE = re.compile(r",? \b(?:from|between) ((?:19|20)\d\d) (?:to|and|until) ((?:19|20)\d\d)\b", _I)
_ASIDES = re.compile(
    r",? according to (?:the|these|those|both) (?:articles?|stories|reports?|news)\b|\bover time\b", _I
)


def topic(question: str) -> str:
    """The question without the words that ask for a summary, a comparison or a timeline ("Summarize the Bloomberg
    article about the 2013 meeting" -> "the 2013 meeting", "How did the talks develop from 2012 to 2013?" -> "the
    talks": the range is for the articles' dates, year_range): what the articles must be about. The question itself
    when nothing else is left."""
    left = _RANGE.sub(" ", _ASIDES.sub(" ", _FORM_WORDS.sub(" ", question)))
    if m := _HOW_DID.match(left):
        left = f"{m.group('subject')} {m.group('rest')}"
    left = " ".join(left.split()).strip(" .?!,")
    return left if len(left.split()) >= 2 else question


def year_range(question: str) -> tuple[int, int] | None:
    """The years of "from 2012 to 2013", "between 2012 and 2013" in the question."""
    m = _RANGE.search(question)
    return (min(int(m.group(1)), int(m.group(2))), max(int(m.group(1)), int(m.group(2)))) if m else None
