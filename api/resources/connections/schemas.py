from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.resources.common import StrictSchema, name_field
from shared.connectors.config import CONNECTION_TYPES

CONFIG_DOC = ('per type — bucket: {"bucket_id"}; collection: {"collection_id"?}; '
              'mongodb: {"uri", "database", "collection"?}; webhook: {"url", "secret"?, "headers"?, '
              '"batch_size"? (100, max 1000), "timeout_s"? (10), "max_attempts"? (5)}')


class ConnectionCreateSchema(StrictSchema):
    name = name_field(required=True)
    type = fields.String(required=True, validate=validate.OneOf(CONNECTION_TYPES))
    config = fields.Dict(load_default=dict, metadata={"description": CONFIG_DOC})


class ConnectionPatchSchema(StrictSchema):
    name = name_field()
    config = fields.Dict(metadata={"description": "merged over the stored config (a key set to null is "
                                                  "removed); masked values sent back keep the stored secret"})
    # Accepted only to answer "immutable" rather than "unknown field".
    type = fields.Raw(metadata={"description": "immutable after creation"})


class ConnectionSchema(Schema):
    connection_id = fields.String()
    name = fields.String()
    type = fields.String()
    namespace_id = fields.String()
    config = fields.Dict(metadata={"description": "secrets masked as '****'"})
    roles = fields.List(fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ConnectionTestSchema(Schema):
    ok = fields.Boolean()
    latency_ms = fields.Float()
    error = fields.String()
