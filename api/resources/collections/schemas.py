"""Collection request/response shapes, field for field from the seed (003)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from api.resources.common import StrictSchema, name_field, priority_field


class StrOrList(fields.Field):
    """The seed's `bucket_id` is one id; several buckets are allowed as a list."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return value
        raise ValidationError("must be an id/name or a non-empty list of them")


class SourceSchema(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(["bucket", "collection"]))
    bucket_id = StrOrList(allow_none=True)
    bucket_ids = fields.List(fields.String(), allow_none=True)
    prefix_key = fields.String(allow_none=True)
    collection_id = StrOrList(allow_none=True)
    collection_ids = fields.List(fields.String(), allow_none=True)
    filters = fields.Dict(allow_none=True)


class FeatureExtractorConfigSchema(StrictSchema):
    feature_extractor_name = fields.String(required=True)
    version = fields.String(load_default=None, allow_none=True)
    parameters = fields.Dict(load_default=dict)
    input_mapping = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    output_mapping = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    document_output_type = fields.String(load_default=None, allow_none=True,
                                         validate=validate.OneOf(["single", "multiple"]))
    document_input_handling = fields.String(load_default="individual",
                                            validate=validate.OneOf(["individual", "batch"]))
    document_output_handling = fields.String(load_default="create_new",
                                             validate=validate.OneOf(["create_new", "update_existing"]))


class TaxonomyApplicationSchema(StrictSchema):
    taxonomy_id = fields.String(required=True)
    output_collection = fields.String(load_default=None, allow_none=True)


class DocumentHandlingSchema(StrictSchema):
    output_type = fields.String(load_default="single", validate=validate.OneOf(["single", "multiple"]))


class InvalidationEventSchema(StrictSchema):
    collection = fields.String(allow_none=True)
    action = fields.String(allow_none=True)
    recompute_strategy = fields.String(load_default="background",
                                       validate=validate.OneOf(["background", "immediate", "lazy"]))
    retriever_id = fields.String(allow_none=True)


class CacheConfigSchema(StrictSchema):
    enabled = fields.Boolean(load_default=True)
    ttl_seconds = fields.Integer(load_default=604800, validate=validate.Range(min=0))
    invalidation_strategy = fields.String(
        load_default="replace_if_better",
        validate=validate.OneOf(["replace_if_better", "replace", "append", "invalidate"]))
    max_entries_per_key = fields.Integer(load_default=5, validate=validate.Range(min=1))
    score_threshold = fields.Float(allow_none=True)
    invalidation_events = fields.List(fields.Nested(InvalidationEventSchema), load_default=list)
    retriever_configs = fields.Dict(load_default=dict)


class CollectionCreateSchema(StrictSchema):
    collection_name = name_field(required=True)
    description = fields.String(load_default=None, allow_none=True)
    source = fields.Nested(SourceSchema, required=True)
    feature_extractors = fields.List(fields.Nested(FeatureExtractorConfigSchema), load_default=list,
                                     validate=validate.Length(max=16))
    taxonomy_applications = fields.List(fields.Nested(TaxonomyApplicationSchema), load_default=list)
    enabled = fields.Boolean(load_default=True)
    metadata = fields.Dict(load_default=dict)
    document_handling = fields.Nested(DocumentHandlingSchema, load_default=None, allow_none=True)
    cache_config = fields.Nested(CacheConfigSchema, load_default=None, allow_none=True)


class CollectionPatchSchema(StrictSchema):
    description = fields.String(allow_none=True)
    metadata = fields.Dict()
    enabled = fields.Boolean()


class CollectionSchema(Schema):
    collection_name = fields.String()
    collection_id = fields.String()
    description = fields.String(allow_none=True)
    metadata = fields.Dict()
    enabled = fields.Boolean()
    source = fields.Dict()
    source_lineage = fields.List(fields.Dict())
    feature_extractors = fields.List(fields.Dict())
    status = fields.String()
    output_schema = fields.Dict()
    taxonomy_applications = fields.List(fields.Dict())
    cache_config = fields.Dict(allow_none=True)
    document_count = fields.Integer()
    namespace_id = fields.String()
    document_handling = fields.Dict(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class TriggerSchema(StrictSchema):
    include_buckets = fields.List(fields.String(), load_default=None, allow_none=True)
    include_collections = fields.List(fields.String(), load_default=None, allow_none=True)
    object_ids = fields.List(fields.String(), load_default=None, allow_none=True,
                             validate=validate.Length(max=10000))
    source_filters = fields.Dict(load_default=None, allow_none=True)
    priority = priority_field()


class TriggerResponseSchema(Schema):
    batch_id = fields.String(required=True)
    task_id = fields.String(required=True)
    collection_id = fields.String(required=True)
    total_tiers = fields.Integer(required=True)
    message = fields.String(required=True)
    source_bucket_ids = fields.List(fields.String(), allow_none=True)
    source_collection_ids = fields.List(fields.String(), allow_none=True)
    object_count = fields.Integer(allow_none=True)
    document_count = fields.Integer(allow_none=True)
