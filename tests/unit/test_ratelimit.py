from shared.ratelimit import budget
from sluice._http import may_retry
from sluice.errors import retry_after_seconds


def test_header_values_from_a_bucket():
    ok = budget(True, 4.6, rate=2.0, burst=10)
    assert ok.headers() == {"RateLimit-Limit": "10", "RateLimit-Remaining": "4", "RateLimit-Reset": "3"}
    over = budget(False, 0.25, rate=0.5, burst=10)
    assert over.headers()["Retry-After"] == "2" and over.remaining == 0


def test_the_sdk_and_cli_wait_as_long_as_the_api_says():
    # A 429 was refused before anything ran: every method is sent again, after Retry-After.
    assert retry_after_seconds("3") == 3.0 and retry_after_seconds(None) is None
    assert may_retry("POST", None, 429) and may_retry("GET", None, 429)
    assert not may_retry("POST", None, 400)
