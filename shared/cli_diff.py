"""Comparing an `sluice apply` resource with what the API holds (pure): what to send, and what
differs but cannot be changed in place.

Fields a resource states are managed; fields it leaves out are left as they are on the
server. Names in the spec are compared with the ids the server stores through `resolve`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from shared.cli_spec import Resource, refs
from shared.secrets.masking import MASK, mask_url

PIPELINE_FIELDS = ("alias", "code", "source", "destination", "metadata", "enabled", "update_time_field",
                   "incremental", "js_limits")
EXTRACTOR_DEFAULTS = {"parameters": {}, "input_mapping": {}, "output_mapping": {}, "document_output_type": None,
                      "document_input_handling": "individual", "document_output_handling": "create_new"}

Resolve = Callable[[str, str], "str | None"]  # (kind, id or name) -> id, None when absent


@dataclass
class Diff:
    patch: dict = field(default_factory=dict)       # the update call's body; empty: nothing to send
    changed: list[str] = field(default_factory=list)  # fields the update changes
    fixed: list[str] = field(default_factory=list)    # fields that differ but cannot change in place
    schedule: tuple[bool, Any] = (False, None)        # pipelines: (must set, period)


def _managed(desired: dict, current: dict, fields: tuple[str, ...], diff: Diff) -> None:
    for f in fields:
        if f in desired and desired[f] != current.get(f):
            diff.patch[f] = desired[f]
            diff.changed.append(f)


def _unique_key(uk: Any) -> Any:
    if not isinstance(uk, dict):
        return uk or None
    return {"fields": list(uk.get("fields") or []), "default_policy": uk.get("default_policy", "upsert")}


def diff_bucket(desired: dict, current: dict) -> Diff:
    d = Diff()
    _managed(desired, current, ("description", "metadata", "schema"), d)
    if "unique_key" in desired and _unique_key(desired["unique_key"]) != _unique_key(current.get("unique_key")):
        d.fixed.append("unique_key")
    return d


def _node(n: Any) -> Any:
    if not isinstance(n, dict):
        return n
    rule = n.get("rule")
    if isinstance(rule, dict):
        rule = {"filters": rule.get("filters"), "keywords": rule.get("keywords") or [],
                "keyword_fields": rule.get("keyword_fields") or []}
    return {"node_id": n.get("node_id"), "label": n.get("label"), "parent_id": n.get("parent_id"), "rule": rule}


def diff_taxonomy(desired: dict, current: dict) -> Diff:
    """Taxonomies have no update route: any difference is reported, not applied."""
    d = Diff()
    if [_node(n) for n in desired.get("nodes") or []] != [_node(n) for n in current.get("nodes") or []]:
        d.fixed.append("nodes")
    if "description" in desired and desired["description"] != current.get("description"):
        d.fixed.append("description")
    return d


def _config_value_equal(key: str, want: Any, have: Any, conn_type: str, resolve: Resolve) -> bool:
    if conn_type == "bucket" and key == "bucket_id" and isinstance(want, str):
        return resolve("bucket", want) == have
    if conn_type == "collection" and key == "collection_id" and isinstance(want, str):
        return resolve("collection", want) == have
    if isinstance(have, str) and MASK in have:
        # A secret the API will not show: equal when the visible parts are.
        return bool(want) if have == MASK else isinstance(want, str) and mask_url(want) == have
    if key == "headers" and isinstance(want, dict) and isinstance(have, dict):
        lower = {str(k).lower(): v for k, v in have.items()}
        return len(want) == len(have) and all(
            str(k).lower() in lower and _config_value_equal("", v, lower[str(k).lower()], conn_type, resolve)
            for k, v in want.items())
    return want == have


def diff_connection(desired: dict, current: dict, resolve: Resolve) -> Diff:
    """The config is merged over the stored one (PATCH semantics): only keys the spec states
    are compared. Masked secrets compare equal when set (their value cannot be read back)."""
    d = Diff()
    if desired.get("type") != current.get("type"):
        d.fixed.append("type")
        return d
    have = current.get("config") or {}
    changed = {k: v for k, v in (desired.get("config") or {}).items()
               if not _config_value_equal(k, v, have.get(k), current.get("type", ""), resolve)}
    if changed:
        d.patch["config"] = changed
        d.changed += [f"config.{k}" for k in changed]
    return d


def _source_key(src: dict, resolve: Resolve, stored: bool) -> tuple:
    kind = src.get("type")
    if stored:
        ids = src.get("bucket_ids") if kind == "bucket" else src.get("collection_ids")
    else:
        plural = "bucket" if kind == "bucket" else "collection"
        ids = [resolve(plural, r) for r in refs(src.get(f"{plural}_id")) + refs(src.get(f"{plural}_ids"))]
    return kind, sorted(str(i) for i in ids or []), src.get("filters"), src.get("prefix_key")


def _extractor_equal(want: Any, have: dict) -> bool:
    if not isinstance(want, dict) or want.get("feature_extractor_name") != have.get("feature_extractor_name"):
        return False
    if want.get("version") is not None and \
            str(want["version"]).removeprefix("v") != str(have.get("version") or "").removeprefix("v"):
        return False
    return all(want.get(k, dflt) == (have.get(k) if have.get(k) is not None else dflt)
               for k, dflt in EXTRACTOR_DEFAULTS.items())


def diff_collection(desired: dict, current: dict, resolve: Resolve) -> Diff:
    d = Diff()
    _managed(desired, current, ("description", "metadata", "enabled"), d)
    if _source_key(desired.get("source") or {}, resolve, False) != _source_key(current.get("source") or {},
                                                                                 resolve, True):
        d.fixed.append("source")
    want_fe, have_fe = desired.get("feature_extractors") or [], current.get("feature_extractors") or []
    if len(want_fe) != len(have_fe) or not all(_extractor_equal(w, h) for w, h in zip(want_fe, have_fe)):
        d.fixed.append("feature_extractors")
    want_apps = [(resolve("taxonomy", a.get("taxonomy_id", "")),
                  resolve("collection", a["output_collection"]) if a.get("output_collection") else None)
                 for a in desired.get("taxonomy_applications") or [] if isinstance(a, dict)]
    have_apps = [(a.get("taxonomy_id"), a.get("output_collection_id")) for a in current.get("taxonomy_applications") or []]
    if want_apps != have_apps:
        d.fixed.append("taxonomy_applications")
    if "document_handling" in desired:
        want = {"output_type": (desired["document_handling"] or {}).get("output_type", "single")}
        if want != (current.get("document_handling") or {"output_type": "single"}):
            d.fixed.append("document_handling")
    if isinstance(desired.get("cache_config"), dict):
        have = current.get("cache_config") or {}
        if any(have.get(k) != v for k, v in desired["cache_config"].items()):
            d.fixed.append("cache_config")
    return d


def pipeline_body(desired: dict, resolve: Resolve) -> dict:
    """The create/PUT body a pipeline spec stands for: connection names resolved to ids,
    `transformation_code` as `code`, the CLI's own `schedule` removed."""
    body = {k: v for k, v in desired.items() if k not in ("schedule", "transformation_code")}
    if desired.get("transformation_code") and not desired.get("code"):
        body["code"] = desired["transformation_code"]
    for end in ("source", "destination"):
        spec = dict(desired.get(end) or {})
        ref = spec.get("connection_id")
        if isinstance(ref, str):
            spec["connection_id"] = resolve("connection", ref) or ref
        body[end] = spec
    return body


def _pipeline_end(spec: dict, end: str) -> dict:
    if end == "source":
        return {"connection_id": spec.get("connection_id"), "filters": spec.get("filters"),
                "collection": spec.get("collection")}
    return {"connection_id": spec.get("connection_id"), "collection": spec.get("collection"),
            "metadata": spec.get("metadata") or {}}


def diff_pipeline(desired: dict, current: dict, resolve: Resolve) -> Diff:
    """PUT replaces a pipeline, so the body is the current pipeline with the spec's fields
    laid over it; `changed` names the fields that differ."""
    conns = current.get("connections") or {}
    have = {"alias": current.get("alias"), "code": current.get("code"),
            "source": _pipeline_end(conns.get("source") or {}, "source"),
            "destination": _pipeline_end(conns.get("destination") or {}, "destination"),
            "metadata": current.get("metadata") or {}, "enabled": current.get("enabled", True),
            "update_time_field": current.get("update_time_field"), "incremental": current.get("incremental", False),
            "js_limits": current.get("js_limits")}
    want = pipeline_body(desired, resolve)
    want["source"], want["destination"] = (_pipeline_end(want["source"], "source"),
                                           _pipeline_end(want["destination"], "destination"))
    body = have | {k: want[k] for k in PIPELINE_FIELDS if k in want}
    d = Diff(changed=[k for k in PIPELINE_FIELDS if body[k] != have[k]])
    if d.changed:
        d.patch = body
    if "schedule" in desired:
        period = (current.get("schedule") or {}).get("period")
        if desired["schedule"] != period:
            d.changed.append("schedule")
            d.schedule = (True, desired["schedule"])
    return d


def diff_resource(res: Resource, current: dict, resolve: Resolve) -> Diff:
    if res.kind == "bucket":
        return diff_bucket(res.body, current)
    if res.kind == "taxonomy":
        return diff_taxonomy(res.body, current)
    if res.kind == "connection":
        return diff_connection(res.body, current, resolve)
    if res.kind == "collection":
        return diff_collection(res.body, current, resolve)
    return diff_pipeline(res.body, current, resolve)
