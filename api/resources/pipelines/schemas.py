"""Pipeline shapes from the seeds (000: create; 001: status, schedule, runs)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.resources.common import StrictSchema, priority_field
from shared.engine.runs.schedule import ALLOWED_PERIODS_TEXT, PERIODS
from shared.status import RunStatus


class PipelineSourceSchema(StrictSchema):
    connection_id = fields.String(required=True)
    filters = fields.Dict(load_default=None, allow_none=True)
    collection = fields.String(load_default=None, allow_none=True,
                               metadata={"description": "source collection (external MongoDB) override"})


class PipelineDestinationSchema(StrictSchema):
    connection_id = fields.String(required=True)
    collection = fields.String(load_default=None, allow_none=True)
    metadata = fields.Dict(load_default=dict)


class JsLimitsSchema(StrictSchema):
    time_ms = fields.Integer(validate=validate.Range(min=1))
    memory_mb = fields.Integer(validate=validate.Range(min=1))
    stack_kb = fields.Integer(validate=validate.Range(min=1))


class PipelineCreateSchema(StrictSchema):
    alias = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=256))
    code = fields.String(load_default=None, allow_none=True)
    transformation_code = fields.String(load_default=None, allow_none=True)
    source = fields.Nested(PipelineSourceSchema, required=True)
    destination = fields.Nested(PipelineDestinationSchema, required=True)
    metadata = fields.Dict(load_default=dict)
    enabled = fields.Boolean(load_default=True)
    update_time_field = fields.String(load_default=None, allow_none=True)
    incremental = fields.Boolean(load_default=False,
                                 metadata={"description": "default mode of runs that do not say"})
    js_limits = fields.Nested(JsLimitsSchema, load_default=None, allow_none=True)
    max_failed_records = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0),
                                        metadata={"description": "a run with more failed records stops FAILED"})
    max_failed_ratio = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1),
                                    metadata={"description": "a run failing a larger share of records stops FAILED"})
    disable_after_failures = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1),
                                            metadata={"description": "consecutive failed runs that disable it"})
    failing_after_failures = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1),
                                            metadata={"description": "consecutive failed runs that fire "
                                                                     "pipeline.failing (default 2/3 of the above)"})

    @validates_schema
    def _streak_order(self, data, **kwargs):
        warn, off = data.get("failing_after_failures"), data.get("disable_after_failures")
        if warn is not None and off is not None and warn >= off:
            raise ValidationError("must be lower than disable_after_failures", "failing_after_failures")

    @validates_schema
    def _one_code(self, data, **kwargs):
        # The seed shows both names; accept either, require one.
        if not data.get("code") and not data.get("transformation_code"):
            raise ValidationError("one of code or transformation_code is required", "transformation_code")
        if data.get("code") and data.get("transformation_code") and data["code"] != data["transformation_code"]:
            raise ValidationError("code and transformation_code differ; send one", "code")


class PipelinePatchSchema(PipelineCreateSchema):
    @validates_schema
    def _one_code(self, data, **kwargs):
        if data.get("code") and data.get("transformation_code") and data["code"] != data["transformation_code"]:
            raise ValidationError("code and transformation_code differ; send one", "code")


class StatusSchema(StrictSchema):
    enabled = fields.Boolean(required=True)


class ScheduleSchema(StrictSchema):
    period = fields.String(required=True, allow_none=True, validate=validate.OneOf(
        list(PERIODS), error=f"must be one of {ALLOWED_PERIODS_TEXT} or null"))


class RunRequestSchema(StrictSchema):
    incremental = fields.Boolean(load_default=None, allow_none=True)
    priority = priority_field()


class RunIdSchema(Schema):
    id = fields.String(required=True)


class RunListSchema(StrictSchema):
    pipeline = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in RunStatus]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
    cursor = fields.String(load_default=None)


class PipelineSchema(Schema):
    pipeline_id = fields.String(required=True)
    enabled = fields.Boolean()
    connections = fields.Dict(required=True)
    metadata = fields.Dict()
    alias = fields.String(allow_none=True)
    code = fields.String()
    update_time_field = fields.String(allow_none=True)
    incremental = fields.Boolean()
    schedule = fields.Dict(allow_none=True)
    next_run_at = fields.DateTime(allow_none=True)
    last_run = fields.Dict(allow_none=True)
    skipped = fields.List(fields.Dict())
    js_limits = fields.Dict(allow_none=True)
    cursor = fields.Raw(allow_none=True, metadata={"description": "incremental cursor: the newest update time read"})
    active_run_id = fields.String(allow_none=True)
    max_failed_records = fields.Integer(allow_none=True)
    max_failed_ratio = fields.Float(allow_none=True)
    disable_after_failures = fields.Integer(allow_none=True)
    failing_after_failures = fields.Integer(allow_none=True)
    failure_streak = fields.Integer(metadata={"description": "consecutive failed runs"})
    disabled_reason = fields.String(allow_none=True, metadata={"description": "why it disabled itself"})
    disabled_at = fields.DateTime(allow_none=True)
    backfill = fields.Dict(allow_none=True, metadata={"description": "the last backfill: windows, runs, status"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
