"""Plain-text helpers shared by the text extractors: spans of words and sentences, stopwords.

Sentence splitting is rule-based: a sentence ends at `.`, `!` or `?` (plus closing quotes or
brackets) followed by whitespace or the end of the text, or at a blank line. Abbreviations
such as "e.g. " therefore end a sentence; that is the documented trade-off of not shipping a
language model.
"""
from __future__ import annotations

import re

Span = tuple[int, int]   # [start, end) character offsets

_WHITESPACE_WORD = re.compile(r"\S+")
_TERM = re.compile(r"\w+(?:['\u2019-]\w+)*")
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n[ \t\r\f\v]*\n")


def word_spans(text: str) -> list[Span]:
    """Whitespace-separated words (punctuation stays attached), as character spans."""
    return [m.span() for m in _WHITESPACE_WORD.finditer(text)]


def terms(text: str) -> list[str]:
    """Word tokens for counting: letters/digits with inner apostrophes or hyphens."""
    return _TERM.findall(text)


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def sentence_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end() if not m.group(0).startswith("\n") else m.start()
        span = _trim(text, pos, end)
        if span:
            spans.append(span)
        pos = m.end()
    span = _trim(text, pos, len(text))
    if span:
        spans.append(span)
    return spans


def sentence_count(text: str) -> int:
    """len(sentence_spans(text)) without building the spans."""
    count, pos = 0, 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end() if not m.group(0).startswith("\n") else m.start()
        if pos < end and not text[pos:end].isspace():
            count += 1
        pos = m.end()
    if pos < len(text) and not text[pos:].isspace():
        count += 1
    return count


STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each few for from further had hadn't has hasn't have haven't having he he'd
he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
is isn't it it's its itself just let's me more most mustn't my myself no nor not now of off on
once only or other ought our ours ourselves out over own same shan't she she'd she'll she's
should shouldn't so some such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those through to too under until up
very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's
which while who who's whom why why's will with won't would wouldn't you you'd you'll you're
you've your yours yourself yourselves also may might must shall us via
""".split())
