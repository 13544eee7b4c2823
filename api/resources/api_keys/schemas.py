from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from api.resources.common import StrictSchema


class ScopeField(fields.Field):
    """`"*"` (every namespace) or a non-empty list of namespace names or ids."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "*":
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            return value
        raise ValidationError('must be "*" or a non-empty list of namespace names or ids')


class ApiKeyCreateSchema(StrictSchema):
    name = fields.String(required=True)
    namespaces = ScopeField(required=True)


class RateLimitSchema(StrictSchema):
    """A key's own request budget; null returns to the server default."""
    requests_per_second = fields.Float(allow_none=True, validate=validate.Range(min=0.01))
    burst = fields.Integer(allow_none=True, validate=validate.Range(min=1))


class ApiKeyPatchSchema(StrictSchema):
    rate_limit = fields.Nested(RateLimitSchema, required=True)


class ApiKeySchema(Schema):
    key_id = fields.String()
    name = fields.String()
    namespaces = fields.Raw()
    prefix = fields.String()
    created_at = fields.DateTime()


class ApiKeyCreatedSchema(ApiKeySchema):
    secret = fields.String(metadata={"description": "shown once; only a hash is stored"})
