"""The README is the manual: every setting is documented there."""
from pathlib import Path

from shared.settings import ENV_DOCS, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_in_the_readme():
    from shared.engine.streaming import config as streaming_config

    readme = (ROOT / "README.md").read_text()
    names = list(ENV_DOCS) + [n for v in vars(streaming_config).values() if isinstance(v, dict)
                              for n in v if str(n).startswith("SLUICE_")]
    missing = [name for name in names if f"`{name}`" not in readme]
    assert len(names) > 20 and missing == []


def test_every_setting_has_an_environment_variable():
    import inspect

    source = inspect.getsource(Settings.from_env)
    assert all(f'"{name}"' in source for name in ENV_DOCS if name not in ("MONGO_URL", "REDIS_URL"))
