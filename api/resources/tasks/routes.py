from __future__ import annotations

from flask import Blueprint

from api.auth import namespace_id
from api.context import stores
from api.jsonio import page_response
from api.openapi import documented
from api.resources.batches.routes import cancel_and_revoke
from api.resources.batches.schemas import BatchListSchema
from api.validate import load_all
from shared.engine.batch.progress import render_task
from shared.errors import NotFound

bp = Blueprint("tasks", __name__, url_prefix="/v1/tasks")


def _batch_for(task_id: str) -> dict:
    batch = stores().batches.by_task_id(task_id, namespace_id())
    if batch is None:
        raise NotFound(f"task '{task_id}' does not exist", code="task_not_found")
    return batch


@bp.get("/<task_id>")
@documented("A task's status and progress; stop polling on COMPLETED, COMPLETED_WITH_ERRORS, "
            "FAILED or CANCELED", errors={404: "no such task"})
def get(task_id: str):
    batch = _batch_for(task_id)
    return render_task(batch, stores().batches.stats_of(batch))


@bp.post("/list")
@documented("List tasks", body=BatchListSchema)
def list_():
    body, _ = load_all(BatchListSchema(), allow_empty=True, paging=True)
    page = stores().batches.list(namespace_id(), statuses=body["status"], limit=body["limit"],
                                 cursor=body["cursor"])
    page.items[:] = [render_task(b, stores().batches.stats_of(b)) for b in page.items]
    return page_response(page)


@bp.delete("/<task_id>")
@documented("Cancel a task", errors={404: "no such task", 409: "already finished"})
def cancel(task_id: str):
    batch = cancel_and_revoke(_batch_for(task_id)["_id"])
    return render_task(batch, stores().batches.stats_of(batch))
