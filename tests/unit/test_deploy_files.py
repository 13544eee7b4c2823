"""compose.yaml and Procfile describe the same roles; compose passes `docker-compose config`
where the tool exists (no container engine runs on our CI machines, so nothing is started)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_has_every_role_with_shared_image_and_env():
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc["services"]
    assert {"mongo", "redis", "api", "worker", "control", "streaming", "beat", "flower"} <= set(services)
    assert services["mongo"]["image"].startswith("mongo:")
    assert "--replSet" in services["mongo"]["command"]
    for role in ("api", "worker", "control", "streaming", "beat", "flower"):
        assert services[role]["image"] == "sluice:latest"
        assert services[role]["environment"]["MONGO_URL"].startswith("mongodb://mongo")
        # a deployment must bring its own key for secrets at rest (never the admin-key fallback)
        assert services[role]["environment"]["SLUICE_SECRET_KEY"].startswith("${SLUICE_SECRET_KEY:?")
    assert services["worker"]["deploy"]["replicas"] >= 2
    for role in ("mongo", "redis", "api", "worker"):
        assert "healthcheck" in services[role], role


def test_procfile_roles():
    roles = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert {"web", "worker", "control", "streaming", "beat", "flower"} <= set(roles)
    assert "api.wsgi:create()" in roles["web"]
    assert "-Q default" in roles["worker"] and "control" in roles["control"]


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose is not installed")
def test_docker_compose_config_accepts_the_file():
    out = subprocess.run(["docker-compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
                         env={**os.environ, "SLUICE_ADMIN_KEY": "x", "SLUICE_SECRET_KEY": "y"}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
