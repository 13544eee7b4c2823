"""text_stats v1: character, word and sentence counts and the most frequent terms of a text."""
from __future__ import annotations

from collections import Counter
from typing import Any

from shared.extractors.base import (OUTPUT_SINGLE, Extractor, ExtractorRun, ExtractorSpec,
                                    RecordError)
from shared.extractors.registry import register
from shared.extractors.text import STOPWORDS, sentence_spans, terms


def text_stats(text: str, top_k: int, stopwords: bool) -> dict[str, Any]:
    words = terms(text)
    counts: Counter[str] = Counter()
    for word in words:
        term = word.lower().replace("\u2019", "'")
        if len(term) < 2 or term.isdigit() or (stopwords and term in STOPWORDS):
            continue
        counts[term] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    return {
        "char_count": len(text),
        "word_count": len(words),
        "sentence_count": len(sentence_spans(text)),
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
    def __init__(self, top_k: int, stopwords: bool):
        self.top_k, self.stopwords = top_k, stopwords

    def apply(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        text = inputs.get("text")
        if text is None:
            raise RecordError("MISSING_INPUT", "input 'text' is missing")
        if not isinstance(text, str):
            raise RecordError("INVALID_INPUT", f"input 'text' must be a string, "
                                               f"not {type(text).__name__}")
        return [text_stats(text, self.top_k, self.stopwords)]
