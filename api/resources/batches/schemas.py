from __future__ import annotations

from marshmallow import fields, validate

from api.resources.common import StrictSchema
from shared.status import BatchStatus


class BatchListSchema(StrictSchema):
    status = fields.List(fields.String(validate=validate.OneOf([s.value for s in BatchStatus])),
                         load_default=None, allow_none=True)
    collection_id = fields.String(load_default=None, allow_none=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None, allow_none=True)


class RetrySchema(StrictSchema):
    retry_mode = fields.String(load_default="failed_only", validate=validate.OneOf(["failed_only", "transient_only", "all"]))
    tier_nums = fields.List(fields.Integer(validate=validate.Range(min=0)), load_default=None, allow_none=True)
