from __future__ import annotations

from marshmallow import Schema, fields

from api.resources.common import StrictSchema, name_field


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
