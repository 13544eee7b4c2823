"""Secrets at rest without MongoDB: the box (Fernet, rotation, legacy plain text), which config
values are sealed, the settings that configure it and the dev-key fallback."""
from __future__ import annotations

import logging

import pytest

from shared.secrets.masking import MASK
from shared.secrets.sealing import open_config, open_webhook, seal_config, seal_webhook
from shared.secrets.box import (PREFIX, SecretBox, UndecryptableSecret, box_for, derive_dev_key, generate_key,
                              is_sealed, key_problem, parse_keys)
from shared.settings import Settings

OLD, NEW = generate_key(), generate_key()


def test_seal_and_open_round_trip_and_every_seal_differs():
    box = SecretBox([OLD])
    sealed = box.seal("hunter2")
    assert sealed.startswith(PREFIX) and "hunter2" not in sealed and is_sealed(sealed)
    assert box.open(sealed) == "hunter2"
    assert box.seal("hunter2") != sealed  # random IV: equal secrets are not recognisable
    # a secret that itself starts with the prefix survives: seal always encrypts
    assert box.open(box.seal(PREFIX + "x")) == PREFIX + "x"


def test_legacy_plain_values_pass_through():
    box = SecretBox([OLD])
    for value in ("plain-secret", "", None, 42):
        assert box.open(value) == value
    assert not is_sealed("plain") and not is_sealed(None)


def test_rotation_first_key_encrypts_every_key_decrypts():
    old_value = SecretBox([OLD]).seal("s")
    rotated = SecretBox([NEW, OLD])
    assert rotated.open(old_value) == "s"
    assert SecretBox([NEW]).open(rotated.seal("t")) == "t"      # the new key wrote it
    with pytest.raises(UndecryptableSecret, match="SLUICE_SECRET_KEY"):
        SecretBox([NEW]).open(old_value)                         # the old key was dropped
    with pytest.raises(UndecryptableSecret):
        rotated.open(PREFIX + "not-a-token")
    with pytest.raises(ValueError):
        SecretBox([])


def test_key_parsing_and_checks():
    assert parse_keys(None) == () and parse_keys(" , ") == ()
    assert parse_keys(f" {NEW} ,{OLD},") == (NEW, OLD)
    assert key_problem(NEW) is None
    assert "Fernet key" in key_problem("too-short") and key_problem("x" * 44) is not None


def test_dev_key_is_derived_stably_and_is_a_valid_key():
    a = derive_dev_key("sk_admin_1")
    assert a == derive_dev_key("sk_admin_1") != derive_dev_key("sk_admin_2")
    assert key_problem(a) is None and "sk_admin_1" not in a


def test_settings_read_the_keys_and_refuse_bad_ones_without_echoing_them():
    s = Settings.from_env({"SLUICE_SECRET_KEY": f"{NEW},{OLD}"})
    assert s.secret_keys == (NEW, OLD) and NEW not in repr(s)
    assert Settings.from_env({}).secret_keys == ()
    with pytest.raises(ValueError, match="key 2 is not a Fernet key") as err:
        Settings.from_env({"SLUICE_SECRET_KEY": f"{NEW},not-a-key-at-all"})
    assert "not-a-key-at-all" not in str(err.value) and "generate one" in str(err.value)


def test_box_for_settings_uses_the_keys_or_warns_and_derives(caplog):
    value = box_for(Settings(secret_keys=(NEW,))).seal("v")
    assert SecretBox([NEW]).open(value) == "v"
    with caplog.at_level(logging.WARNING, logger="sluice.secretbox"):
        box = box_for(Settings(admin_key="sk_admin_x"))
    assert "SLUICE_SECRET_KEY is not set" in caplog.text and "sk_admin_x" not in caplog.text
    assert SecretBox([derive_dev_key("sk_admin_x")]).open(box.seal("v")) == "v"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sluice.secretbox"):
        box_for(Settings())
    assert any(r.levelno == logging.ERROR and "publicly known" in r.getMessage() for r in caplog.records)


# -- which values are sealed --------------------------------------------------------------------------
BOX = SecretBox([OLD])
HOOK = {"url": "https://h.example/in?token=tok-1", "secret": "whsec_1", "batch_size": 10,
        "headers": {"Authorization": "Bearer b-1", "X-Api-Key": "k-1", "X-Team": "crm", "Empty-Token": ""}}


def test_webhook_config_seals_exactly_the_masked_values():
    sealed = seal_config("webhook", HOOK, BOX)
    assert all(is_sealed(sealed[k]) for k in ("url", "secret"))
    assert is_sealed(sealed["headers"]["Authorization"]) and is_sealed(sealed["headers"]["X-Api-Key"])
    assert sealed["headers"]["X-Team"] == "crm" and sealed["headers"]["Empty-Token"] == ""
    assert sealed["batch_size"] == 10
    assert not any(s in repr(sealed) for s in ("tok-1", "whsec_1", "b-1", "k-1"))
    assert open_config("webhook", sealed, BOX) == HOOK and HOOK["secret"] == "whsec_1"  # input untouched
    # a URL without a secret stays readable; no secret stays None
    plain = seal_config("webhook", {"url": "https://h.example/in", "secret": None}, BOX)
    assert plain == {"url": "https://h.example/in", "secret": None}


def test_mongodb_uri_is_sealed_only_when_it_carries_a_password():
    with_pw = {"uri": "mongodb://etl:pw-1@db:27017/shop", "database": "shop"}
    sealed = seal_config("mongodb", with_pw, BOX)
    assert is_sealed(sealed["uri"]) and sealed["database"] == "shop"
    assert open_config("mongodb", sealed, BOX) == with_pw
    no_pw = {"uri": "mongodb://db:27017/shop", "database": "shop"}
    assert seal_config("mongodb", no_pw, BOX) == no_pw
    assert seal_config("bucket", {"bucket_id": "bkt_1"}, BOX) == {"bucket_id": "bkt_1"}


def test_opening_legacy_plain_configs_and_unreadable_values():
    assert open_config("webhook", HOOK, BOX) == HOOK  # stored before encryption existed
    sealed = seal_config("webhook", HOOK, SecretBox([NEW]))
    with pytest.raises(UndecryptableSecret):
        open_config("webhook", sealed, BOX)
    shown = open_config("webhook", sealed, BOX, lenient=True)
    assert shown["secret"] == MASK and shown["url"] == MASK and shown["headers"]["Authorization"] == MASK
    # a harmless header whose value merely looks sealed is never taken for ciphertext
    odd = {"url": "https://h/", "headers": {"X-Note": PREFIX + "hello"}}
    assert open_config("webhook", odd, BOX) == odd


def test_webhook_subscriptions_seal_url_tokens_and_secret():
    doc = {"_id": "wh_1", "url": "https://h/in?token=t-1", "secret": "s-1", "events": ["batch.completed"]}
    sealed = seal_webhook(doc, BOX)
    assert is_sealed(sealed["url"]) and is_sealed(sealed["secret"]) and sealed["events"] == doc["events"]
    assert open_webhook(sealed, BOX) == doc
    assert open_webhook(seal_webhook(doc, SecretBox([NEW])), BOX, lenient=True)["secret"] == MASK


def test_sluice_up_keeps_one_local_key_for_an_external_mongodb(tmp_path):
    import os
    import stat

    from shared.cli_procs import local_secret_key
    from shared.secrets.box import key_problem

    first = local_secret_key(str(tmp_path))
    path = tmp_path / "sluice" / "secret.key"
    assert key_problem(first) is None and path.read_text().strip() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert local_secret_key(str(tmp_path)) == first          # the next run seals with the same key
    path.write_text("not a key")
    with pytest.raises(SystemExit):
        local_secret_key(str(tmp_path))
