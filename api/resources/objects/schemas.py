from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from api.resources.common import StrictSchema
from shared.filters.ast import field_problem
from shared.stores.objects import POLICIES


class ObjectWriteSchema(StrictSchema):
    key_prefix = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1024))
    metadata = fields.Dict(load_default=dict)
    data = fields.Dict(required=True)


class ObjectPatchSchema(StrictSchema):
    key_prefix = fields.String(allow_none=True, validate=validate.Length(max=1024))
    metadata = fields.Dict()
    data = fields.Dict()


class ObjectBatchSchema(StrictSchema):
    objects = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))
    policy = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(POLICIES))


def _sort_field(name: str) -> None:
    # The filter language's field rule: a `$` segment would reach MongoDB as an operator.
    if (problem := field_problem(name)) is not None:
        raise ValidationError(problem)


class SortSchema(StrictSchema):
    field = fields.String(load_default="created_at", validate=_sort_field)
    direction = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class ObjectListSchema(StrictSchema):
    filters = fields.Dict(load_default=None, allow_none=True)
    sort = fields.Nested(SortSchema, load_default=lambda: {"field": "created_at", "direction": "desc"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None, allow_none=True)


class ObjectSchema(Schema):
    object_id = fields.String()
    bucket_id = fields.String()
    namespace_id = fields.String()
    key_prefix = fields.String(allow_none=True)
    metadata = fields.Dict()
    data = fields.Dict()
    status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    outcome = fields.String(metadata={"description": "created | updated (writes only)"})
