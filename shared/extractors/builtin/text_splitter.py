"""text_splitter v1: cut a text into overlapping chunks of characters, words or sentences."""
from __future__ import annotations

from typing import Any

from shared.extractors.base import (OUTPUT_MULTIPLE, Extractor, ExtractorRun, ExtractorSpec,
                                    text_input)
from shared.extractors.registry import register
from shared.extractors.text import Span, sentence_spans, word_spans

MAX_SIZE = 1_000_000


def split(text: str, unit: str, size: int, overlap: int) -> list[dict[str, Any]]:
    """Chunks of `size` units, each starting `size - overlap` units after the previous one.

    A chunk's `text` is the original text from its first unit's start to its last unit's end
    (whitespace between words is kept as it was); `start`/`end` are those character offsets
    ([start, end), so `original[start:end] == text`)."""
    if unit == "characters":
        return _char_chunks(text, size, overlap)
    spans: list[Span]
    if unit == "words":
        spans = word_spans(text)
    else:
        spans = sentence_spans(text)
    step = size - overlap
    bounds: list[Span] = []
    for first in range(0, len(spans), step):
        group = spans[first:first + size]
        bounds.append((group[0][0], group[-1][1]))
        if first + size >= len(spans):
            break
    return _docs(text, bounds)


def _char_chunks(text: str, size: int, overlap: int) -> list[dict[str, Any]]:
    step = size - overlap
    bounds: list[Span] = []
    for start in range(0, len(text), step):
        bounds.append((start, min(start + size, len(text))))
        if start + size >= len(text):
            break
    return _docs(text, bounds)


def _docs(text: str, bounds: list[Span]) -> list[dict[str, Any]]:
    n = len(bounds)
    return [{"text": text[s:e], "chunk_index": i, "chunk_count": n, "start": s, "end": e}
            for i, (s, e) in enumerate(bounds)]


@register
class TextSplitter(Extractor):
    spec = ExtractorSpec(
        name="text_splitter",
        version="1",
        description=("Splits a text into chunks of `size` characters, words or sentences; "
                     "consecutive chunks share `overlap` units. One document per chunk; "
                     "an empty text gives no documents."),
        parameters_schema={
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["characters", "words", "sentences"],
                         "default": "words", "description": "What `size` and `overlap` count."},
                "size": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE,
                         "description": "Units per chunk."},
                "overlap": {"type": "integer", "minimum": 0, "default": 0,
                            "description": "Units shared by consecutive chunks; below `size`."},
            },
            "required": ["size"],
            "additionalProperties": False,
        },
        input_fields={"text": {"type": "string", "required": True,
                               "description": "The text to split."}},
        output_fields={
            "text": {"type": "string", "description": "The chunk, as it appears in the original."},
            "chunk_index": {"type": "integer", "description": "0-based position of the chunk."},
            "chunk_count": {"type": "integer", "description": "Number of chunks of this text."},
            "start": {"type": "integer", "description": "Offset of the chunk's first character."},
            "end": {"type": "integer", "description": "Offset just past its last character."},
        },
        output_type=OUTPUT_MULTIPLE,
    )

    def check(self, params: dict[str, Any], path: str, settings: Any) -> list[dict[str, Any]]:
        if params["overlap"] >= params["size"]:
            return [{"path": f"{path}.overlap",
                     "message": f"must be smaller than size ({params['size']})"}]
        return []

    def open(self, params: dict[str, Any], settings: Any) -> ExtractorRun:
        p = self.normalise(params)
        return _SplitterRun(p["unit"], int(p["size"]), int(p["overlap"]))


class _SplitterRun(ExtractorRun):
    def __init__(self, unit: str, size: int, overlap: int):
        self.unit, self.size, self.overlap = unit, size, overlap

    def apply(self, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        text = text_input(inputs)
        return split(text, self.unit, self.size, self.overlap)
