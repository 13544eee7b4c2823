"""Connection configs: validation paths, masking, PATCH merging — and the pure helpers of the
connectors (signatures, retry policy, range bounds, JSON views). No services needed."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId

from shared.connectors import destination_for, require_role, source_for
from shared.connectors.base import as_utc, jsonable
from shared.connectors.config import (MASK, config_secrets, is_sensitive_name, mask_config, mask_url,
                                      merge_config, scrub, supports, validate_config)
from shared.connectors.mongodb import decode_bound, encode_bound, id_range_query
from shared.connectors.mongouri import parse_mongo_uri
from shared.connectors.webhook import RetryableStatus, retry_policy, sign, verify
from shared.errors import ValidationFailed

IDS = {("bucket", "raw"): "bkt_1", ("bucket", "bkt_1"): "bkt_1",
       ("collection", "people"): "col_1", ("collection", "col_1"): "col_1"}


def resolve(kind: str, ref: str) -> str | None:
    return IDS.get((kind, ref))


def paths(problems: list[dict]) -> set[str]:
    return {p["path"] for p in problems}


# -- validation ---------------------------------------------------------------------------------
def test_bucket_config_resolves_names_and_requires_existence():
    assert validate_config("bucket", {"bucket_id": "raw"}, resolve) == ({"bucket_id": "bkt_1"}, [])
    _, problems = validate_config("bucket", {"bucket_id": "ghost"}, resolve)
    assert problems == [{"path": "config.bucket_id", "message": "bucket 'ghost' does not exist in this namespace"}]
    _, problems = validate_config("bucket", {"other": 1}, resolve)
    assert paths(problems) == {"config.bucket_id", "config.other"}
    _, problems = validate_config("bucket", {"bucket_id": 7}, resolve)
    assert paths(problems) == {"config.bucket_id"}


def test_collection_config_is_optional_but_must_exist_when_given():
    assert validate_config("collection", {}, resolve) == ({"collection_id": None}, [])
    assert validate_config("collection", {"collection_id": "people"}, resolve)[0] == {"collection_id": "col_1"}
    assert paths(validate_config("collection", {"collection_id": "nope"}, resolve)[1]) == {"config.collection_id"}


def test_mongodb_config_valid_and_database_from_uri():
    clean, problems = validate_config("mongodb", {"uri": "mongodb://u:p@h1:27017,h2/shop?authSource=admin"})
    assert problems == [] and clean == {"uri": "mongodb://u:p@h1:27017,h2/shop?authSource=admin",
                                        "database": "shop", "collection": None}
    clean, problems = validate_config("mongodb", {"uri": "mongodb+srv://u:p@cluster.example.com",
                                                  "database": "db", "collection": "items"})
    assert problems == [] and clean["collection"] == "items"


@pytest.mark.parametrize("config, bad", [
    ({}, {"config.uri"}),
    ({"uri": "http://h", "database": "d"}, {"config.uri"}),
    ({"uri": "mongodb://h/?bogusOption=1", "database": "d"}, {"config.uri"}),
    ({"uri": "mongodb+srv://u:p@cluster.example.com:27017/d"}, {"config.uri"}),
    ({"uri": "mongodb://h"}, {"config.database"}),
    ({"uri": "mongodb://h", "database": "a.b", "collection": "$x", "extra": 1},
     {"config.database", "config.collection", "config.extra"}),
    ({"uri": "mongodb://u:****@h/d"}, {"config.uri"}),
])
def test_mongodb_config_problems(config, bad):
    assert paths(validate_config("mongodb", config)[1]) == bad


def test_invalid_uri_message_never_echoes_the_password():
    _, problems = validate_config("mongodb", {"uri": "mongodb://admin:hunter22@db.example:99x/d"})
    assert problems and all("hunter22" not in p["message"] for p in problems)


def test_parse_mongo_uri_srv_needs_no_dns():
    parsed = parse_mongo_uri("mongodb+srv://u:p@does-not-exist.invalid/db?srvMaxHosts=2")
    assert parsed["database"] == "db" and parsed["nodelist"] == [("does-not-exist.invalid", None)]
    with pytest.raises(ValueError):
        parse_mongo_uri("mongodb+srv://a.example,b.example/db")


def test_webhook_defaults_and_every_problem():
    clean, problems = validate_config("webhook", {"url": "https://hooks.example/in"})
    assert problems == []
    assert clean == {"url": "https://hooks.example/in", "secret": None, "headers": {}, "batch_size": 100,
                     "timeout_s": 10, "max_attempts": 5}
    _, problems = validate_config("webhook", {
        "url": "ftp://x", "secret": "", "batch_size": 1001, "timeout_s": True, "max_attempts": 0,
        "headers": {"Content-Type": "text/plain", "bad name": "v", "X-Ok": "line\nbreak"}, "zzz": 1})
    assert paths(problems) == {"config.url", "config.secret", "config.batch_size", "config.timeout_s",
                               "config.max_attempts", "config.headers.Content-Type",
                               "config.headers.bad name", "config.headers.X-Ok", "config.zzz"}
    assert paths(validate_config("webhook", {})[1]) == {"config.url"}
    assert paths(validate_config("webhook", {"url": "https://h", "headers": []})[1]) == {"config.headers"}


def test_masked_placeholders_are_refused_on_create():
    _, problems = validate_config("webhook", {"url": "https://h/x", "secret": MASK,
                                              "headers": {"Authorization": MASK}})
    assert paths(problems) == {"config.secret", "config.headers.Authorization"}


def test_unknown_type_and_non_object_config():
    assert validate_config("ftp", {})[1] == [{"path": "type", "message":
                                              "must be one of: bucket, collection, mongodb, webhook"}]
    assert validate_config("bucket", [])[1] == [{"path": "config", "message": "must be an object"}]


# -- masking --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, sensitive", [
    ("Authorization", True), ("Proxy-Authorization", True), ("X-Api-Key", True), ("X-Auth-Token", True),
    ("x-client-secret", True), ("Cookie", True), ("X-Team", False), ("Accept", False), ("authSource", False),
])
def test_sensitive_names(name, sensitive):
    assert is_sensitive_name(name) is sensitive


@pytest.mark.parametrize("url, masked", [
    ("mongodb://user:pw@h1:27017,h2/db?authSource=admin", "mongodb://user:****@h1:27017,h2/db?authSource=admin"),
    ("mongodb://user@h/db", "mongodb://user@h/db"),
    ("mongodb://h/db?tlsCertificateKeyFilePassword=x", "mongodb://h/db?tlsCertificateKeyFilePassword=****"),
    ("mongodb://user:pa/ss@host/db", "mongodb://user:****@host/db"),
    ("https://a:b@x.com:8443/hook?token=abc&x=1#f", "https://a:****@x.com:8443/hook?token=****&x=1#f"),
    ("https://x.com/users/@me", "https://x.com/users/@me"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_config_per_type():
    m = mask_config("mongodb", {"uri": "mongodb://u:pw@h/d", "database": "d", "collection": None})
    assert m["uri"] == "mongodb://u:****@h/d"
    w = mask_config("webhook", {"url": "https://h/x", "secret": "s3cr3t",
                                "headers": {"Authorization": "Bearer t", "X-Team": "a"}})
    assert w["secret"] == MASK and w["has_secret"] is True
    assert w["headers"] == {"Authorization": MASK, "X-Team": "a"}
    assert mask_config("webhook", {"url": "https://h/x", "secret": None})["has_secret"] is False
    assert mask_config("bucket", {"bucket_id": "bkt_1"}) == {"bucket_id": "bkt_1"}


def test_scrub_and_config_secrets():
    config = {"url": "https://u:longpass@h/x?token=tok123", "secret": "whsec", "headers": {"X-Api-Key": "k-999"}}
    found = config_secrets("webhook", config)
    assert {"longpass", "tok123", "whsec", "k-999"} <= set(found)
    text = "failed https://u:longpass@h/x?token=tok123 with whsec and k-999"
    assert scrub(text, found) == "failed https://u:****@h/x?token=**** with **** and ****"
    assert scrub("mongodb://u:ab@h and ab", ["ab"]) == "mongodb://u:****@h and ab"


# -- PATCH merging --------------------------------------------------------------------------------
STORED_HOOK = {"url": "https://hooks.example/in?token=abcd", "secret": "whsec_1",
               "headers": {"Authorization": "Bearer real", "X-Team": "a"},
               "batch_size": 100, "timeout_s": 10, "max_attempts": 5}


def test_round_trip_of_the_masked_view_keeps_every_secret():
    shown = mask_config("webhook", STORED_HOOK)
    merged, problems = merge_config("webhook", STORED_HOOK, shown)
    clean, more = validate_config("webhook", merged)
    assert problems == [] and more == [] and clean == STORED_HOOK
    stored_db = {"uri": "mongodb://u:pw@h/d", "database": "d", "collection": "c"}
    merged, problems = merge_config("mongodb", stored_db, mask_config("mongodb", stored_db))
    assert problems == [] and merged == stored_db


def test_merge_is_shallow_and_null_removes():
    merged, problems = merge_config("webhook", STORED_HOOK, {"batch_size": 10, "secret": None})
    assert problems == [] and merged["batch_size"] == 10 and "secret" not in merged
    assert merged["headers"] == STORED_HOOK["headers"]


def test_masked_uri_with_another_host_must_resend_the_password():
    stored = {"uri": "mongodb://u:pw@h/d", "database": "d", "collection": None}
    merged, problems = merge_config("mongodb", stored, {"uri": "mongodb://u:****@evil/d"})
    _, more = validate_config("mongodb", merged)
    assert problems == [] and paths(more) == {"config.uri"}


def test_masked_header_kept_only_for_the_same_origin():
    merged, problems = merge_config("webhook", STORED_HOOK,
                                    {"url": "https://hooks.example/other", "headers": {"Authorization": MASK}})
    assert problems == [] and merged["headers"] == {"Authorization": "Bearer real"}
    merged, problems = merge_config("webhook", STORED_HOOK,
                                    {"url": "https://elsewhere.example/in", "headers": {"Authorization": MASK}})
    assert paths(problems) == {"config.headers.Authorization"}
    merged, problems = merge_config("webhook", STORED_HOOK, {"headers": {"X-Api-Key": MASK}})
    assert paths(problems) == {"config.headers.X-Api-Key"}


def test_masked_secret_without_a_stored_secret_is_refused():
    stored = {**STORED_HOOK, "secret": None}
    _, problems = merge_config("webhook", stored, {"secret": MASK})
    assert paths(problems) == {"config.secret"}


# -- roles ------------------------------------------------------------------------------------------
def test_roles():
    assert supports("bucket", "source") and not supports("bucket", "destination")
    assert supports("webhook", "destination") and not supports("webhook", "source")
    assert supports("mongodb", "source") and supports("collection", "destination")
    with pytest.raises(ValidationFailed) as err:
        source_for(None, {"type": "webhook", "config": {}}, {})
    assert err.value.details[0]["path"] == "source.connection_id"
    with pytest.raises(ValidationFailed) as err:
        destination_for(None, {"type": "bucket", "config": {}}, {}, None)
    assert err.value.details[0]["path"] == "destination.connection_id"
    require_role({"type": "collection"}, "source", "x")


# -- webhook helpers ----------------------------------------------------------------------------------
def test_sign_and_verify_bind_the_timestamp_to_the_body():
    body, ts = b'{"a":1}', 1_700_000_000
    sig = sign("k", body, ts)
    expected = hmac.new(b"k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert sig == f"t={ts},v1={expected}"  # the documented algorithm, computed independently
    assert verify("k", body, sig, now=ts) and verify("k", body, f" {sig} ", now=ts + 299)
    assert not verify("k", body + b" ", sig, now=ts) and not verify("other", body, sig, now=ts)
    assert not verify("k", body, None, now=ts) and not verify("", body, sig, now=ts)
    # the signature covers the timestamp: moving t (to pass the age check) breaks it
    assert not verify("k", body, sig.replace(f"t={ts}", f"t={ts + 1000}"), now=ts + 1000)
    # malformed headers, and the pre-timestamp `sha256=` form, are refused
    for bad in (expected, f"sha256={expected}", f"v1={expected}", f"t={ts}", f"t=x,v1={expected}",
                f"t=١٢,v1={expected}", ""):
        assert not verify("k", body, bad, now=ts), bad
    # several v1 entries (e.g. during a secret change): any match is enough
    assert verify("k", body, f"t={ts},v1={'0' * 64},v1={expected}", now=ts)


def test_verify_refuses_stale_and_far_future_timestamps():
    body, ts = b"{}", 1_700_000_000
    sig = sign("k", body, ts)
    assert verify("k", body, sig, now=ts + 300) and verify("k", body, sig, now=ts - 300)
    assert not verify("k", body, sig, now=ts + 301)      # a replay after five minutes
    assert not verify("k", body, sig, now=ts - 301)      # a timestamp from the future
    assert verify("k", body, sig, now=ts + 3600, tolerance_s=3600)
    assert verify("k", body, sign("k", body))            # now defaults to the clock


def test_webhook_url_with_a_literal_refused_ip_is_a_400_at_its_path():
    def problems(url: str, allow_private: bool) -> list[dict]:
        return validate_config("webhook", {"url": url}, allow_private=allow_private)[1]

    for url in ("http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x", "http://0.0.0.0:80/",
                "http://224.0.0.1/", "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/"):
        for allow in (True, False):  # never allowed
            found = problems(url, allow)
            assert paths(found) == {"config.url"} and "webhooks may never reach it" in found[0]["message"], url
    for url in ("http://127.0.0.1:8080/hook", "http://127.1/hook", "http://2130706433/", "http://[::1]/",
                "https://10.0.0.5/in", "http://192.168.1.20/", "http://172.17.0.1/"):
        assert problems(url, True) == [], url
        found = problems(url, False)
        assert paths(found) == {"config.url"} and "SLUICE_WEBHOOK_ALLOW_PRIVATE=true" in found[0]["message"], url
    # host names are judged when sending (after resolution), public addresses pass
    assert problems("http://localhost:9/x", False) == [] and problems("https://8.8.8.8/x", False) == []
    # a malformed URL is reported once, by the URL check
    assert len(problems("ftp://127.0.0.1/", False)) == 1


def test_retry_policy_backs_off_then_gives_up_and_honours_retry_after():
    sleeps: list[float] = []
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise RetryableStatus(500, "oops")
        return "ok"

    assert retry_policy(5, sleep=sleeps.append)(flaky) == "ok"
    assert calls["n"] == 3 and len(sleeps) == 2 and 0.2 <= sleeps[0] <= 0.4 and 0.4 <= sleeps[1] <= 0.6

    sleeps.clear()

    def always_429():
        raise RetryableStatus(429, "slow down", retry_after=3)

    with pytest.raises(RetryableStatus):
        retry_policy(3, sleep=sleeps.append)(always_429)
    assert len(sleeps) == 2 and all(s >= 3 for s in sleeps)

    def bad_request():
        raise ValueError("not retried")

    with pytest.raises(ValueError):
        retry_policy(5, sleep=sleeps.append)(bad_request)


# -- mongodb ranges and JSON views ------------------------------------------------------------------------
def test_bounds_are_json_safe_and_round_trip():
    oid = ObjectId()
    when = datetime(2024, 1, 2, 3, 4, 5, 6000)
    for value in (oid, when, "s", 5, 2.5, None):
        encoded = encode_bound(value)
        assert encoded is None or isinstance(encoded, (str, int, float, dict))
        assert decode_bound(encoded) == value


def test_id_range_query_uses_plain_ranges_within_a_type_and_expr_across_types():
    assert id_range_query({"a": 1}, "a", "m") == {"$and": [{"a": 1}, {"_id": {"$gte": "a", "$lt": "m"}}]}
    q = id_range_query({}, 5, "x")
    assert q == {"$expr": {"$and": [{"$gte": ["$_id", {"$literal": 5}]}, {"$lt": ["$_id", {"$literal": "x"}]}]}}
    # the open last range too; a "$"-string bound stays a literal, never a field path
    assert id_range_query({}, "$weird", None) == {"$expr": {"$and": [{"$gte": ["$_id", {"$literal": "$weird"}]}]}}


def test_jsonable_and_as_utc():
    oid = ObjectId()
    row = {"_id": oid, "at": datetime(2024, 1, 1), "b": b"\x00\x01", "n": [1, (2, 3)], "f": float("nan")}
    assert jsonable(row) == {"_id": str(oid), "at": "2024-01-01T00:00:00.000Z", "b": "AAE=",
                             "n": [1, [2, 3]], "f": None}
    # update times are naive UTC, like everything MongoDB returns (shared.timeutil)
    assert as_utc(datetime(2024, 1, 1)) == datetime(2024, 1, 1)
    assert as_utc(datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == datetime(2024, 1, 1)
    assert as_utc("2024-01-01T00:00:00Z") == datetime(2024, 1, 1)
    assert as_utc("not a date") is None and as_utc(5) is None
