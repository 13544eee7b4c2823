from __future__ import annotations

from marshmallow import Schema, fields, validate
from marshmallow import fields as mf  # `fields` is also a field name below

from api.resources.common import StrictSchema, name_field
from shared.stores.objects import POLICIES


class UniqueKeySchema(StrictSchema):
    fields = mf.List(mf.String(validate=validate.Length(min=1)), required=True,
                     validate=validate.Length(min=1, max=8))
    default_policy = mf.String(load_default="upsert", validate=validate.OneOf(POLICIES))


class BucketCreateSchema(StrictSchema):
    bucket_name = name_field(required=True)
    description = fields.String(load_default=None, allow_none=True)
    metadata = fields.Dict(load_default=dict)
    schema = fields.Dict(load_default=None, allow_none=True,
                         metadata={"description": '{"properties": {"f": {"type": "string"}}, "required": ["f"]}'})
    unique_key = fields.Nested(UniqueKeySchema, load_default=None, allow_none=True)


class BucketPatchSchema(StrictSchema):
    bucket_name = name_field()
    description = fields.String(allow_none=True)
    metadata = fields.Dict()
    schema = fields.Dict(allow_none=True)
    # Accepted only to answer "immutable" rather than "unknown field".
    unique_key = fields.Raw(metadata={"description": "immutable after creation"})


class BucketSchema(Schema):
    bucket_id = fields.String()
    bucket_name = fields.String()
    namespace_id = fields.String()
    description = fields.String(allow_none=True)
    metadata = fields.Dict()
    schema = fields.Dict(allow_none=True)
    unique_key = fields.Nested(UniqueKeySchema, allow_none=True)
    object_count = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
