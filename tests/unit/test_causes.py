"""Failure causes: one classification for every failure record."""
from __future__ import annotations

import pymongo.errors

from shared.causes import DATA, INFRASTRUCTURE, USER_CODE, cause_of, with_cause
from shared.errors import ServiceUnavailable, ValidationFailed


def test_js_errors_are_the_users_code():
    for code in ("JS_ERROR", "JS_TIMEOUT", "JS_MEMORY", "JS_STACK", "JS_OUTPUT", "JS_SYNTAX"):
        assert cause_of(code) == USER_CODE


def test_record_content_problems_are_data():
    for code in ("MISSING_INPUT", "INVALID_INPUT", "CAST_ERROR", "INVALID_RECORD", "RECORD_TOO_LARGE",
                 "WRITE_FAILED"):
        assert cause_of(code) == DATA


def test_stores_time_limits_and_lost_workers_are_infrastructure():
    for code in ("STORE_UNAVAILABLE", "TASK_TIME_LIMIT", "WORKER_LOST"):
        assert cause_of(code) == INFRASTRUCTURE
    assert cause_of("anything", pymongo.errors.AutoReconnect("gone")) == INFRASTRUCTURE
    assert cause_of("anything", ServiceUnavailable("down")) == INFRASTRUCTURE
    assert cause_of("anything", ValidationFailed("bad")) == USER_CODE


def test_unknown_codes_default_to_user_code():
    assert cause_of(None) == USER_CODE
    assert cause_of("SOMETHING_NEW") == USER_CODE


def test_rows_stored_before_the_field_are_classified_on_read():
    assert with_cause({"code": "INVALID_RECORD"})["cause"] == DATA
    assert with_cause({"code": "JS_ERROR", "cause": INFRASTRUCTURE})["cause"] == INFRASTRUCTURE
