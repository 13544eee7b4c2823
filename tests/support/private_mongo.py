"""A private mongod for tests that need server options the shared one has not: test commands
(so a fail point can make the store fail for real, as in an outage) and a tiny oplog that
rolls over within a second (`--oplogSize 1` is allowed at startup — the 990 MB floor is
`replSetResizeOplog`'s — and `--syncdelay 1` lets truncation follow each checkpoint).

Use it by overriding the `services` and `mongo_client` fixtures in a test module:

    services, mongo_client = private_mongo_fixtures()
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from cli.localservices import LocalServices, ServiceStartError, start_mongod

TINY_OPLOG_ARGS = ("--oplogSize", "1", "--syncdelay", "1", "--setParameter", "enableTestCommands=1")


def private_mongo_fixtures() -> tuple[Any, Any]:
    @pytest.fixture(scope="module")
    def services(services):  # noqa: F811 - the session's Redis, a mongod of our own
        workdir = Path(tempfile.mkdtemp(prefix="sluice-private-mongo-"))
        try:
            url, proc = start_mongod(workdir, extra_args=TINY_OPLOG_ARGS)
        except ServiceStartError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            pytest.fail(f"cannot start a private mongod: {exc}")
        own = LocalServices(url, services.redis_url, started_mongo=True,
                            started_redis=services.started_redis)
        try:
            yield own
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            shutil.rmtree(workdir, ignore_errors=True)

    @pytest.fixture(scope="module")
    def mongo_client(services):  # noqa: F811
        import pymongo

        client = pymongo.MongoClient(services.mongo_url, serverSelectionTimeoutMS=5000, tz_aware=False)
        yield client
        client.close()

    return services, mongo_client


def fail_inserts(client: Any, app_name: str | None) -> None:
    """Make every `insert` command of clients named `app_name` (an `appName=` in their URL)
    fail as when the store goes away — the server closes the connection, pymongo raises
    AutoReconnect — or, with None, stop doing so."""
    cmd: dict = {"configureFailPoint": "failCommand", "mode": "alwaysOn" if app_name else "off"}
    if app_name:
        cmd["data"] = {"failCommands": ["insert"], "closeConnection": True, "appName": app_name}
    client.admin.command(cmd)
