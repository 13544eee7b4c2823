from shared.cli_client import retry_after
from shared.ratelimit import budget


def test_header_values_from_a_bucket():
    ok = budget(True, 4.6, rate=2.0, burst=10)
    assert ok.headers() == {"RateLimit-Limit": "10", "RateLimit-Remaining": "4", "RateLimit-Reset": "3"}
    over = budget(False, 0.25, rate=0.5, burst=10)
    assert over.headers()["Retry-After"] == "2" and over.remaining == 0


def test_the_cli_waits_as_long_as_the_api_says_within_a_bound():
    assert retry_after(200, None, 0) is None
    assert retry_after(429, "3", 0) == 3.0
    assert retry_after(429, None, 0) == 1.0 and retry_after(429, "soon", 0) == 1.0
    assert retry_after(429, "30", 40) is None
