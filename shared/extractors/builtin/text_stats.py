"""text_stats v1: character, word and sentence counts and the most frequent terms of a text."""
from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Any

from shared.extractors.base import (OUTPUT_SINGLE, Extractor, ExtractorRun, ExtractorSpec,
                                    text_input)
from shared.extractors.registry import register
from shared.extractors.text import STOPWORDS, sentence_count, terms


def _keyword(word: str, stopwords: bool) -> str | None:
    """The term a token counts as, or None when it is not a keyword."""
    term = word.lower().replace("\u2019", "'")
    if len(term) < 2 or term.isdigit() or (stopwords and term in STOPWORDS):
        return None
    return term


def text_stats(text: str, top_k: int, stopwords: bool, memo: dict[str, str | None] | None = None) -> dict[str, Any]:
    """`memo` (token -> keyword) may be shared by the records of a chunk: texts share their
    vocabulary, so most tokens are normalised once per chunk instead of once per use."""
    words = terms(text)
    memo = {} if memo is None else memo
    counts: dict[str, int] = {}
    for word, n in Counter(words).items():   # count raw tokens in C, normalise each once
        term = memo.get(word, "")
        if term == "":
            term = memo[word] = _keyword(word, stopwords)
        if term is not None:
            counts[term] = counts.get(term, 0) + n
    # Most frequent first, ties alphabetical: two stable C-level sorts beat a tuple key.
    ranked = sorted(sorted(counts.items(), key=itemgetter(0)), key=itemgetter(1), reverse=True)[:top_k]
    return {
        "char_count": len(text),
        "word_count": len(words),
        "sentence_count": sentence_count(text),
        "keywords": [{"term": t, "count": c} for t, c in ranked],
    }


@register
class TextStats(Extractor):
    spec = ExtractorSpec(
        name="text_stats",
        version="1",
        description=("Counts characters, words and sentences of a text and lists its `top_k` "
                     "most frequent terms (lower-cased; one-letter and all-digit terms skipped; "
                     "English stopwords skipped unless `stopwords` is false). Ties are broken "
                     "alphabetically."),
        parameters_schema={
            "type": "object",
            "properties": {
                "top_k": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 5,
                          "description": "How many keywords to return."},
                "stopwords": {"type": "boolean", "default": True,
                              "description": "Skip common English words in keywords."},
            },
            "additionalProperties": False,
        },
        input_fields={"text": {"type": "string", "required": True,
                               "description": "The text to measure."}},
        output_fields={
            "char_count": {"type": "integer", "description": "Characters (code points)."},
            "word_count": {"type": "integer", "description": "Words (letters/digits runs)."},
            "sentence_count": {"type": "integer", "description": "Sentences (rule-based)."},
            "keywords": {"type": "array",
                         "description": "[{term, count}] most frequent terms, most frequent first."},
        },
        output_type=OUTPUT_SINGLE,
    )

    def open(self, params: dict[str, Any], settings: Any) -> ExtractorRun:
        p = self.normalise(params)
        return _StatsRun(int(p["top_k"]), bool(p["stopwords"]))


class _StatsRun(ExtractorRun):
    MEMO_LIMIT = 50_000

    def __init__(self, top_k: int, stopwords: bool):
        self.top_k, self.stopwords = top_k, stopwords
        self.memo: dict[str, str | None] = {}

    def apply(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        text = text_input(inputs)
        if len(self.memo) > self.MEMO_LIMIT:   # a chunk of very varied texts: stay bounded
            self.memo.clear()
        return [text_stats(text, self.top_k, self.stopwords, self.memo)]
