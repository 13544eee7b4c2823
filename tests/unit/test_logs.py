import io
import json
import logging

from shared import logs


def test_json_lines_carry_context_and_extras():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    log = logging.getLogger("sluice.test.logs")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        logs.clear()
        logs.bind(request_id="req_1", namespace="prod", **logs.chunk_context("bat_9:1:2:col_3:4"))
        log.info("chunk done", extra={"processed": 10})
        line = json.loads(stream.getvalue().strip())
        assert line["message"] == "chunk done" and line["level"] == "info"
        assert (line["request_id"], line["namespace"], line["batch_id"], line["tier"]) == ("req_1", "prod", "bat_9", 2)
        assert line["chunk"] == "bat_9:1:2:col_3:4" and line["processed"] == 10
        logs.clear()
        assert logs.context() == {}
        assert logs.chunk_context("run_5:3") == {"run_id": "run_5", "chunk": "run_5:3"}
    finally:
        log.removeHandler(handler)
        logs.clear()
