from __future__ import annotations

from flask import Blueprint

from api.openapi import documented
from shared.errors import NotFound
from shared.extractors import get_extractor, list_extractors

bp = Blueprint("feature_extractors", __name__, url_prefix="/v1/feature-extractors")


def _versions(name: str) -> list[str]:
    return sorted({e.spec.version for e in list_extractors() if e.spec.name == name})


@bp.get("")
@documented("Available feature extractors with their parameters, inputs and outputs", namespaced=False)
def list_():
    latest: dict[str, dict] = {}
    for e in list_extractors():
        latest[e.spec.name] = {**e.spec.to_dict(), "versions": _versions(e.spec.name)}
    items = [latest[k] for k in sorted(latest)]
    return {"results": items, "pagination": {"limit": len(items), "next_cursor": None, "total": len(items)}}


@bp.get("/<name>")
@documented("One feature extractor", namespaced=False, errors={404: "no such extractor"})
def get(name: str):
    try:
        e = get_extractor(name)
    except KeyError as exc:
        raise NotFound(f"feature extractor '{name}' does not exist", code="extractor_not_found") from exc
    return {**e.spec.to_dict(), "versions": _versions(name)}
