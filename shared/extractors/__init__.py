"""Feature extractors: per-record functions that turn a source record into feature documents.

See `base.py` for the interface and `builtin/` for the shipped extractors
(text_splitter, js_transform, text_stats, field_mapper, content_hash).
"""
from shared.extractors.base import (OUTPUT_MULTIPLE, OUTPUT_SINGLE, Extractor, ExtractorRun,
                                    ExtractorSpec, RecordError, get_path, resolve_inputs,
                                    validate_input_mapping)
from shared.extractors.registry import get_extractor, list_extractors, register

__all__ = [
    "OUTPUT_MULTIPLE", "OUTPUT_SINGLE", "Extractor", "ExtractorRun", "ExtractorSpec",
    "RecordError", "get_extractor", "get_path", "list_extractors", "register",
    "resolve_inputs", "validate_input_mapping",
]
