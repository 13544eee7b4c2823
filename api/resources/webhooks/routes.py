from __future__ import annotations

from flask import Blueprint, request
from marshmallow import fields, validate

from api.auth import namespace_id
from api.context import settings, stores, tasks
from api.jsonio import load, page_response, query_int
from api.openapi import documented
from api.resources.common import StrictSchema
from shared.engine.events import EVENT_TYPES
from shared.errors import ValidationFailed
from shared.ids import new_id
from shared.netguard import url_problem
from shared.secrets.masking import mask_url
from shared.tasknames import DELIVER_WEBHOOK
from shared.timeutil import utcnow

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")


class WebhookCreateSchema(StrictSchema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True,
                         validate=validate.Length(min=1))
    secret = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=8, max=256))
    enabled = fields.Boolean(load_default=True)
    max_attempts = fields.Integer(load_default=5, validate=validate.Range(min=1, max=10))


def render(doc: dict) -> dict:
    return {"webhook_id": doc["_id"], "url": mask_url(doc["url"]), "events": doc["events"],
            "enabled": doc["enabled"], "has_secret": bool(doc.get("secret")),
            "max_attempts": doc.get("max_attempts", 5), "created_at": doc["created_at"]}


@bp.post("")
@documented("Subscribe a URL to batch/run/streaming events; deliveries are signed with HMAC-SHA256 "
            "over the timestamp and body (X-Sluice-Signature: t=…,v1=…)",
            body=WebhookCreateSchema, status=201)
def create():
    body = load(WebhookCreateSchema())
    # A literal IP is judged now; a host name when the worker resolves it before each send.
    refused = url_problem(body["url"], allow_private=settings().webhook_allow_private)
    if refused is not None:
        raise ValidationFailed.at("url", refused)
    doc = {"_id": new_id("webhook"), "namespace_id": namespace_id(), **body,
           "events": sorted(set(body["events"])), "created_at": utcnow()}
    return render(stores().webhooks.create(doc)), 201


@bp.get("")
@documented("List webhooks")
def list_():
    page = stores().webhooks.list(namespace_id(), limit=query_int("limit"), cursor=request.args.get("cursor"))
    page.items[:] = [render(d) for d in page.items]
    return page_response(page)


@bp.get("/<webhook_id>")
@documented("Get a webhook", errors={404: "no such webhook"})
def get(webhook_id: str):
    return render(stores().webhooks.get(namespace_id(), webhook_id))


@bp.delete("/<webhook_id>")
@documented("Delete a webhook", errors={404: "no such webhook"})
def delete(webhook_id: str):
    doc = stores().webhooks.get(namespace_id(), webhook_id)
    stores().webhooks.delete(namespace_id(), doc["_id"])
    return {"deleted": True, "webhook_id": doc["_id"]}


@bp.get("/<webhook_id>/deliveries")
@documented("Deliveries of a webhook, newest first; ?status=failed shows what needs a re-send",
            query={"status": "pending | delivered | failed", "limit": "page size", "cursor": "next page"})
def deliveries(webhook_id: str):
    doc = stores().webhooks.get(namespace_id(), webhook_id)
    page = stores().webhooks.deliveries_page(doc["_id"], request.args.get("status"), limit=query_int("limit"),
                                             cursor=request.args.get("cursor"))
    return page_response(page)


@bp.post("/<webhook_id>/deliveries/<delivery_id>/resend")
@documented("Send a delivery again (same event id)", errors={404: "no such delivery"})
def resend(webhook_id: str, delivery_id: str):
    doc = stores().webhooks.get(namespace_id(), webhook_id)
    row = stores().webhooks.resend(doc["_id"], delivery_id)
    tasks().send(DELIVER_WEBHOOK, (row["_id"],))
    return {"delivery_id": row["_id"], "status": row["status"]}
