"""Request shapes of the recovery routes: resubmit, dead-letter replay, backfill."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from api.resources.common import StrictSchema


class ResubmitSchema(StrictSchema):
    from_tier = fields.Integer(required=True, validate=validate.Range(min=0))


class BackfillSchema(StrictSchema):
    skipped = fields.Boolean(load_default=None, allow_none=True,
                             metadata={"description": "run the occurrences the scheduler skipped"})
    start = fields.DateTime(load_default=None, allow_none=True)
    end = fields.DateTime(load_default=None, allow_none=True)
    window = fields.String(load_default=None, allow_none=True,
                           metadata={"description": "window length: a schedule period (e.g. 1h, 1d)"})

    @validates_schema
    def _one_way(self, data, **kwargs):
        ranged = data.get("start") is not None or data.get("end") is not None
        if data.get("skipped") and ranged:
            raise ValidationError("send either skipped or start/end, not both", "skipped")
        if not data.get("skipped") and not ranged:
            raise ValidationError("send skipped: true, or a start and an end", "start")
        if ranged:
            if data.get("start") is None:
                raise ValidationError("is required with end", "start")
            if data.get("end") is None:
                raise ValidationError("is required with start", "end")
            if data["end"] <= data["start"]:
                raise ValidationError("must be after start", "end")
