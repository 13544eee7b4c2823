import pytest

from shared.settings import Settings
from shared.status import allowed_from, can_transition, finished_status, is_terminal


def test_terminal_batches_cannot_move_back_except_to_pending_for_retry():
    assert can_transition("batch", "PROCESSING", "COMPLETED")
    assert not can_transition("batch", "COMPLETED", "PROCESSING")
    assert can_transition("batch", "FAILED", "PENDING")
    assert not can_transition("batch", "CANCELED", "COMPLETED")
    assert allowed_from("batch", "CANCELED") == ["PAUSED", "PENDING", "PROCESSING"]
    for s in ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"):
        assert is_terminal("batch", s)
    assert not is_terminal("batch", "PROCESSING")
    assert finished_status("batch", 0) == "COMPLETED"
    assert finished_status("run", 3) == "COMPLETED_WITH_ERRORS"
    with pytest.raises(ValueError):
        allowed_from("batch", "NOPE")


@pytest.mark.parametrize("kind,running", [("batch", "PROCESSING"), ("run", "RUNNING")])
def test_paused_is_a_non_terminal_state_entered_only_from_running(kind, running):
    assert can_transition(kind, running, "PAUSED") and can_transition(kind, "PAUSED", running)
    assert can_transition(kind, "PAUSED", "CANCELED") and can_transition(kind, "PAUSED", "FAILED")
    assert not can_transition(kind, "PENDING", "PAUSED") and not can_transition(kind, "PAUSED", "COMPLETED")
    assert not is_terminal(kind, "PAUSED")


def test_settings_from_env_and_validation():
    s = Settings.from_env({"MONGO_URL": "mongodb://x", "SLUICE_CHUNK_SIZE": "42"})
    assert s.mongo_url == "mongodb://x" and s.chunk_size == 42 and s.mongo_db == "sluice"
    with pytest.raises(ValueError, match="SLUICE_CHUNK_SIZE"):
        Settings.from_env({"SLUICE_CHUNK_SIZE": "many"})
    with pytest.raises(ValueError, match="below SLUICE_VISIBILITY_TIMEOUT_S"):
        Settings.from_env({"SLUICE_VISIBILITY_TIMEOUT_S": "10"})
    assert Settings.from_env({}).with_(chunk_size=5).chunk_size == 5
