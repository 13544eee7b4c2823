from __future__ import annotations

from marshmallow import Schema, fields, missing, validate

from api.resources.common import StrictSchema, name_field, priority_field


class NamespaceCreateSchema(StrictSchema):
    namespace_name = name_field(required=True)
    description = fields.String(load_default=None, allow_none=True)
    metadata = fields.Dict(load_default=dict)


class NamespaceSchema(Schema):
    namespace_id = fields.String()
    namespace_name = fields.String()
    description = fields.String(allow_none=True)
    metadata = fields.Dict()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    # GET and PATCH of one namespace show its share of the pool and of the API, and its usage now.
    limits = fields.Dict()
    usage = fields.Dict()


class LimitsSchema(StrictSchema):
    """A namespace's share of the pool and of the API; null lifts a limit."""
    max_concurrent_chunks = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    max_active_batches = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    default_priority = priority_field(load_default=missing, allow_none=False)
    requests_per_second = fields.Float(allow_none=True, validate=validate.Range(min=0.01))
    burst = fields.Integer(allow_none=True, validate=validate.Range(min=1))


class NamespacePatchSchema(StrictSchema):
    limits = fields.Nested(LimitsSchema, required=True)
