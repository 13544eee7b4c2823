"""Schema pieces shared by several resources."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared.engine.fairness import PRIORITIES
from shared.ids import NAME_RE, NAME_RULE

name_field = lambda **kw: fields.String(  # noqa: E731 - a tiny field factory
    validate=validate.Regexp(NAME_RE, error=NAME_RULE), **kw)

# low | normal | high; None: the namespace's default priority
priority_field = lambda **kw: fields.String(  # noqa: E731 - a tiny field factory
    **{"load_default": None, "allow_none": True,
       "validate": validate.OneOf(PRIORITIES, error="must be one of: " + ", ".join(PRIORITIES)), **kw})


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ListRequestSchema(StrictSchema):
    filters = fields.Dict(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None, allow_none=True)


class PaginationSchema(Schema):
    limit = fields.Integer()
    next_cursor = fields.String(allow_none=True)
    total = fields.Integer()


class DeletedSchema(Schema):
    deleted = fields.Boolean()
