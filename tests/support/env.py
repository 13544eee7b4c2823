"""How the tests run like a deployment: the admin key, the key for secrets at rest, and whether
this is CI (where a service that cannot start fails its tests instead of skipping them)."""
from __future__ import annotations

import os


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


ADMIN_KEY = "sk_admin_test_key"
# The tests run like a deployment: an explicit key for secrets at rest (the API process and
# the worker processes must share it), and webhooks allowed to reach the receivers the tests
# start on 127.0.0.1.
SECRET_KEY = "a5ruFZUJcK9ZzIF2WpjXuzm5B8yR2e9qZdbUzfdb17Q="
SECURITY_ENV = {"SLUICE_SECRET_KEY": SECRET_KEY, "SLUICE_WEBHOOK_ALLOW_PRIVATE": "true"}
