"""The benchmark's workload, as data shared by the driver (which creates it through the API)
and the floor task (which runs the very same extractor code by hand).

    bucket "products" (unique_key sku)
      └─ tier 0  "clean"  field_mapper: select, cast price to a number, rename body → text
          └─ tier 1  "shout"  js_transform: upper-case the title, add 10 % to the price
              └─ tier 2  "stats"  text_stats on text (word/sentence counts, top terms)

Cheap, realistic extractors: the point is the engine's overhead, not the extractors' cost.
"""
from __future__ import annotations

from typing import Any, Iterator

from pymongo import UpdateOne

BUCKET = "products"
WORDS = ("alpha beta gamma delta sports football match goal weather rain sunny cloud market "
         "price stock order ship fast slow blue green").split()
CATEGORIES = ("books", "garden", "toys", "tools", "music")

JS_CODE = """function transform(d) {
  return {sku: d.sku, title: d.title.toUpperCase(), text: d.text, category: d.category,
          price: Math.round(d.price * 110) / 100};
}"""

# One extractor per collection; source of tier 0 is the bucket, of tier n the collection n-1.
TIERS: list[dict[str, Any]] = [
    {"collection_name": "clean", "feature_extractor": {
        "feature_extractor_name": "field_mapper",
        "parameters": {"select": ["sku", "title", "body", "price", "category"],
                       "cast": {"price": "number"}, "rename": {"body": "text"}}}},
    {"collection_name": "shout", "feature_extractor": {
        "feature_extractor_name": "js_transform",
        "parameters": {"code": JS_CODE, "output_fields": {"sku": "string", "title": "string", "text": "string",
                                             "category": "string", "price": "number"}}}},
    {"collection_name": "stats", "feature_extractor": {
        "feature_extractor_name": "text_stats", "parameters": {"top_k": 3},
        "input_mapping": {"text": "text"}}},
]


def bucket_body(name: str = BUCKET) -> dict:
    return {"bucket_name": name, "unique_key": {"fields": ["sku"], "default_policy": "upsert"},
            "schema": {"properties": {"sku": {"type": "string"}, "title": {"type": "text"},
                                      "body": {"type": "text"}, "price": {"type": "string"},
                                      "category": {"type": "string"}},
                       "required": ["sku"]}}


def collection_bodies(bucket: str = BUCKET, prefix: str = "") -> list[dict]:
    """POST /v1/collections bodies, tier 0 first (names get `prefix`)."""
    bodies, source = [], {"type": "bucket", "bucket_id": bucket}
    for tier in TIERS:
        name = prefix + tier["collection_name"]
        bodies.append({"collection_name": name, "source": source,
                       "feature_extractors": [tier["feature_extractor"]]})
        source = {"type": "collection", "collection_id": name}
    return bodies


def make_object(i: int) -> dict:
    """~30 words of text in 2 sentences, a price as a string (so the cast does work)."""
    text = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(14)) + ". " + \
        " ".join(WORDS[(i * 11 + k) % len(WORDS)] for k in range(16)) + "."
    return {"data": {"sku": f"sku-{i:08d}", "title": f"Product number {i}", "body": text,
                     "price": f"{(i % 1000) + 0.99:.2f}", "category": CATEGORIES[i % len(CATEGORIES)]}}


def make_objects(lo: int, hi: int) -> Iterator[dict]:
    return (make_object(i) for i in range(lo, hi))


# -- the floor: the same per-record work, hand-written plumbing -----------------------------------
def floor_outputs(stage: int, rows: list[dict], settings: Any) -> list[tuple[Any, dict]]:
    """(source _id, output data) per row: the stage's extractor opened once per chunk and
    applied to each row's data, exactly the extractor code the engine runs for that tier."""
    from shared.extractors import get_extractor

    fe = TIERS[stage]["feature_extractor"]
    extractor = get_extractor(fe["feature_extractor_name"])
    mapping = fe.get("input_mapping") or {}
    out = []
    with extractor.open(extractor.normalise(fe.get("parameters") or {}), settings) as run:
        for row in rows:
            data = row["data"]
            inputs = {k: data[v] for k, v in mapping.items()} if mapping else data
            result = run.apply(inputs)[0]
            out.append((row["_id"], result if extractor.spec.replaces_record else {**data, **result}))
    return out


def floor_writes(outputs: list[tuple[Any, dict]], now: Any) -> list[UpdateOne]:
    """One upsert per output, keyed by the source id (each stage is 1:1)."""
    return [UpdateOne({"_id": src_id}, {"$set": {"source_id": src_id, "data": data, "updated_at": now},
                                        "$setOnInsert": {"created_at": now}}, upsert=True)
            for src_id, data in outputs]
