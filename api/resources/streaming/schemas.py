"""Streaming-pipeline shapes (seed 004): camelCase, as the seed's API speaks."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.resources.common import StrictSchema
from shared.engine.streaming.config import (AGENTS, DEFAULT_AGENT, DEFAULT_MAX_BATCH_SIZE,
                                            DEFAULT_MAX_BATCH_WAIT_MS, MAX_BATCH_SIZE_RANGE,
                                            MAX_BATCH_WAIT_RANGE)
from shared.engine.streaming.decisions import COMMANDS


class ConnectionRefSchema(StrictSchema):
    connectionId = fields.String(required=True, validate=validate.Length(min=1),
                                 metadata={"description": "a connection id or name of this project"})


class StreamingSourceSchema(StrictSchema):
    connection = fields.Nested(ConnectionRefSchema, required=True,
                               metadata={"description": "a bucket or mongodb connection"})
    collections = fields.List(fields.String(validate=validate.Length(min=1)), load_default=None,
                              allow_none=True, validate=validate.Length(min=1, max=100),
                              metadata={"description": "mongodb: the collections to follow "
                                                       "(default: the connection's collection)"})
    snapshot = fields.Boolean(load_default=True,
                              metadata={"description": "copy the source before streaming (first START)"})


class StreamingTargetSchema(StrictSchema):
    connection = fields.Nested(ConnectionRefSchema, required=True,
                               metadata={"description": "a collection, mongodb or webhook connection"})
    collection = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1),
                               metadata={"description": "target collection (default: the connection's)"})


class TransformationSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1),
                         metadata={"description": "JavaScript defining transform(record) or execute(record)"})


class AdvancedPropertiesSchema(StrictSchema):
    maxBatchSize = fields.Integer(load_default=DEFAULT_MAX_BATCH_SIZE, strict=True,
                                  validate=validate.Range(*MAX_BATCH_SIZE_RANGE))
    maxBatchWaitMs = fields.Integer(load_default=DEFAULT_MAX_BATCH_WAIT_MS, strict=True,
                                    validate=validate.Range(*MAX_BATCH_WAIT_RANGE))
    lagAlertSeconds = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, min_inclusive=False),
                                   metadata={"description": "streaming.lagging fires when the lag stays above "
                                                            "this many seconds (3 steps in a row)"})


class StreamingPipelineCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=256))
    agentId = fields.String(load_default=DEFAULT_AGENT, validate=validate.OneOf(
        AGENTS, error=f"must be one of: {', '.join(AGENTS)} (see the project's environments)"))
    streamingSource = fields.Nested(StreamingSourceSchema, required=True)
    streamingTarget = fields.Nested(StreamingTargetSchema, required=True)
    filters = fields.Dict(load_default=None, allow_none=True,
                          metadata={"description": "the filter language, evaluated on each change's document"})
    transformation = fields.Nested(TransformationSchema, load_default=None, allow_none=True)
    advancedProperties = fields.Nested(AdvancedPropertiesSchema, load_default=dict)


class CommandSchema(StrictSchema):
    command = fields.String(required=True, validate=validate.OneOf(COMMANDS, error="must be START or STOP"))
    snapshot = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "START only: true copies the source again, false resumes from the saved token"})
    resumeFrom = fields.String(load_default=None, allow_none=True, metadata={
        "description": 'START only, when the token is gone: "snapshot", "now" or an ISO timestamp'})


class PageQuerySchema(StrictSchema):
    page = fields.Integer(load_default=0, validate=validate.Range(min=0))
    size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=1000))


class StreamingPipelineSchema(Schema):
    streamingPipelineId = fields.String(required=True)
    name = fields.String()
    agentId = fields.String()
    streamingSource = fields.Dict()
    streamingTarget = fields.Dict()
    filters = fields.Dict(allow_none=True)
    transformation = fields.Dict(allow_none=True)
    advancedProperties = fields.Dict()
    status = fields.String()
    createdAt = fields.DateTime()
    updatedAt = fields.DateTime()


class CommandResultSchema(Schema):
    streamingPipelineId = fields.String()
    command = fields.String()
    status = fields.String()


class StatusSchema(Schema):
    streamingPipelineId = fields.String()
    status = fields.String()
    error = fields.String(allow_none=True)
    counters = fields.Dict()
    lastEventTime = fields.DateTime(allow_none=True)
    lagSeconds = fields.Float(allow_none=True)
    lastStateChange = fields.DateTime(allow_none=True)
    heartbeatAt = fields.DateTime(allow_none=True)
    mode = fields.String(allow_none=True)
    recoveries = fields.Integer()
    history = fields.List(fields.Dict())
    recentFailures = fields.List(fields.Dict())
    resumeTokenLost = fields.Boolean(metadata={"description": "the saved token is gone: START needs resumeFrom"})
    resumeFrom = fields.String(allow_none=True)


class EnvironmentsSchema(Schema):
    results = fields.List(fields.Dict())
    defaultAgentId = fields.String()
