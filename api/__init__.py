"""The HTTP API (Flask + marshmallow). Never imports workers/: work is enqueued by task name."""
