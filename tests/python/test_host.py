"""The Python package `mfa-reset` (host/python), installed from its wheel
into a fresh venv, on the conformance suite and on its own duties: the
packaged component, a custom policy set, input checked before the
component sees it, a fresh store after a trap, a sandboxed guest. Run by
tests/engine/python_host.rs, which passes the paths in the environment."""

import base64
import json
import os
import re
import shutil
from pathlib import Path

import pytest

import mfa_reset
from mfa_reset import EngineError, MfaReset, PolicyError, RequestError

CASES = json.load(open(os.environ["MFA_RESET_CONFORMANCE"]))["cases"]
CACHE = os.environ["MFA_RESET_CACHE_DIR"]


@pytest.fixture(scope="module")
def engine():
    return MfaReset(cache_dir=CACHE)


def test_the_package_under_test_is_the_installed_wheel():
    """Not the source file: the module and its component come from the venv."""
    installed = Path(os.environ["MFA_RESET_INSTALLED_IN"]).resolve()
    module = Path(mfa_reset.__file__).resolve()
    assert module.is_relative_to(installed), module
    assert (module.parent / "mfa-reset.wasm").is_file()
    assert (module.parent / "py.typed").is_file()


def masked(enrolment):
    """The conformance file's masking of an enrolment's random key."""
    key = enrolment["key"]
    if key is not None:
        assert key.pop("qr_png_base64") and key.pop("qr_text")
        key["uri"] = re.sub(r"secret=[^&]*", "secret=<random>", key["uri"])
    pending = enrolment["authenticator"]["pending"]
    if pending is not None:
        secret = pending["secret"]
        size = len(base64.b32decode(secret + "=" * (-len(secret) % 8)))
        pending["secret"] = f"<random {size} bytes>"
    return enrolment


def masked_codes(answer):
    """The conformance file's masking of new (random) recovery codes."""
    for field in ("recovery_codes", "codes"):
        if isinstance(answer.get(field), list):
            answer[field] = [re.sub(r"[^-]", "X", c) for c in answer[field]]
    saved = answer["authenticator"].get("recovery_codes")
    if saved:
        size = lambda text: len(text.rstrip("=")) * 5 // 8  # noqa: E731
        saved["key"] = f"<random {size(saved['key'])} bytes>"
        saved["hashes"] = [f"<{size(h)} bytes>" for h in saved["hashes"]]
    return answer


KEYS = {"decide": "outcome", "decide_provisioning": "outcome", "decide_recovery": "outcome",
        "next_login_step": "step",
        "start_enrolment": "enrolment", "regenerate_recovery_codes": "new_codes"}


def answer(engine, case):
    call = getattr(engine, case["call"])
    try:
        result = call(case["request"])
    except RequestError as refused:
        return {"error": {"field": refused.field, "message": refused.message}}
    if case["call"] == "start_enrolment":
        result = masked(result)
    if case["call"] in ("confirm_enrolment", "regenerate_recovery_codes"):
        result = masked_codes(result)
    return {KEYS.get(case["call"], "verification"): result}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_conformance_case(engine, case):
    """Every case answered as the Rust host answers it (rule in its name)."""
    assert answer(engine, case) == case["expect"]


def with_value(request, path, value):
    target = request
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return request


def a_request(prefix="R9 transition"):
    return json.loads(json.dumps(next(
        c["request"] for c in CASES if c["name"].startswith(prefix))))


@pytest.mark.parametrize("path, value, field", [
    (("session", "mfa_satisfied"), "false", "session.mfa_satisfied"),
    (("actor", "organization", "enforce_mfa"), 0, "actor.organization.enforce_mfa"),
    (("actor", "role"), "admin", "actor.role"),
    (("actor", "id"), 7, "actor.id"),
    (("now",), "2026-11-22", "now"),
    (("now",), "2026-11-22T10:00:00", "now"),
    (("action",), "drop_tables", "action"),
    (("action",), {"set_enforcement": "yes"}, "action.set_enforcement"),
    (("action",), {"list_users": {}}, "action.list_users"),
])
def test_bad_input_is_refused_before_the_component_with_its_field(engine, path, value, field):
    with pytest.raises(RequestError) as refused:
        engine.decide(with_value(a_request(), path, value))
    assert refused.value.field == field


@pytest.mark.parametrize("path, value, field", [
    (("authenticator", "failures"), -1, "authenticator.failures"),
    (("authenticator", "failures"), 2**32, "authenticator.failures"),
    (("authenticator", "active", "digits"), 262, "authenticator.active.digits"),
    (("authenticator", "last_accepted_step"), 2**64 + 1, "authenticator.last_accepted_step"),
    (("lockout", "max_failures"), 2**32 + 5, "lockout.max_failures"),
    (("now",), "20261122T100000Z", "now"),
    (("now",), "2026-W47-1T10:00:00Z", "now"),
    (("now",), "2026-02-31T10:00:00Z", "now"),
    (("now",), "2026-11-22T24:00:00Z", "now"),
    (("authenticator", "active", "secret"), "not base32!", "authenticator.active.secret"),
    (("code",), 123456, "code"),
    (("lockout", "max_failures"), "5", "lockout.max_failures"),
])
def test_bad_code_requests_are_refused_with_their_field(engine, path, value, field):
    request = with_value(a_request("R3 verify: RFC 6238 vector at 59"), path, value)
    with pytest.raises(RequestError) as refused:
        engine.verify_login(request)
    assert refused.value.field == field


def test_unknown_and_missing_fields_are_named(engine):
    request = a_request()
    request["actor"]["admin"] = True
    with pytest.raises(RequestError) as refused:
        engine.decide(request)
    assert refused.value.field == "actor.admin"
    request = a_request()
    del request["session"]
    with pytest.raises(RequestError) as refused:
        engine.decide(request)
    assert refused.value.field == "session"


def test_the_compiled_component_is_cached_and_reused(engine):
    assert any(name.endswith(".cwasm") for name in os.listdir(CACHE))
    again = MfaReset(cache_dir=CACHE)
    assert again.from_cache
    assert again.decide(a_request()) == engine.decide(a_request())


def test_a_compiled_form_others_can_write_is_not_run(engine, tmp_path):
    """A planted or writable .cwasm is native code: compiled afresh instead."""
    shared = tmp_path / "shared"
    shared.mkdir()
    MfaReset(cache_dir=shared)
    shared.chmod(0o777)
    assert not MfaReset(cache_dir=shared).from_cache
    shared.chmod(0o700)
    (cwasm,) = [p for p in shared.iterdir() if p.suffix == ".cwasm"]
    cwasm.chmod(0o666)
    assert not MfaReset(cache_dir=shared).from_cache


def test_a_trap_gets_a_clear_error_and_a_fresh_store():
    """The test-only misbehaving component traps for actor `trap`; the
    next request is decided by a fresh instance."""
    misbehaving = MfaReset(os.environ["MFA_RESET_MISBEHAVING_WASM"], cache_dir=CACHE)
    request = a_request()
    request["actor"]["id"] = "trap"
    with pytest.raises(EngineError):
        misbehaving.decide(request)
    request["actor"]["id"] = "calm"
    first = misbehaving.decide(request)
    assert "decision" in first


# ---- a custom policy set -------------------------------------------------

SELF_RESET = "R6 allow: self-reset with an active session"


def test_a_custom_policy_set_decides_and_the_built_in_one_is_untouched(engine):
    """R6 under a set that adds a forbid for bob: the package loads the
    directory's policies (and the support URL for the message)."""
    request = a_request(SELF_RESET)
    assert engine.decide(request)["decision"]["allowed"]
    custom = MfaReset(policies=os.environ["MFA_RESET_CUSTOM_POLICIES"],
                      support_url="https://help.example/bob", cache_dir=CACHE)
    decision = custom.decide(request)["decision"]
    assert decision == {
        "allowed": False, "policy_ids": ["bob-may-not-reset"], "denial_code": "ask-support",
        "message": "Bob asks support: https://help.example/bob",
    }
    assert engine.decide(request)["decision"]["allowed"], "the default engine is unchanged"


def test_a_support_url_alone_keeps_the_built_in_policies(engine):
    """R8: the expired session's message names the URL given."""
    request = a_request("R8 deny: self-reset from an expired session")
    helped = MfaReset(support_url="https://help.example/expired", cache_dir=CACHE)
    message = helped.decide(request)["decision"]["message"]
    assert "https://help.example/expired" in message
    assert helped.decide(a_request(SELF_RESET)) == engine.decide(a_request(SELF_RESET))


def test_a_broken_policy_set_is_refused_with_file_and_line(tmp_path):
    shutil.copytree(os.environ["MFA_RESET_CUSTOM_POLICIES"], tmp_path / "set")
    broken = tmp_path / "set" / "broken.cedar"
    broken.write_text('@id("x")\npermit (principal, action, resource)\nwhen { principal.is_admin };\n')
    with pytest.raises(PolicyError) as refused:
        MfaReset(policies=tmp_path / "set", cache_dir=CACHE)
    (first, *_) = [d for d in refused.value.diagnostics if d["severity"] == "error"]
    assert first["file"].endswith("broken.cedar") and first["line"] == 3, first
    assert "is_admin" in first["message"]
    for bad, why in [(tmp_path / "nothing", "not a directory"),
                     (tmp_path, "no `*.cedar` file")]:
        with pytest.raises(PolicyError, match=re.escape(why)):
            MfaReset(policies=bad, cache_dir=CACHE)
    with pytest.raises(TypeError, match="support_url"):
        MfaReset(support_url=7, cache_dir=CACHE)


def test_after_a_trap_the_fresh_instance_decides_with_the_custom_set():
    """The host's randomness fails once, mid-enrolment: the component traps,
    the package starts a fresh instance, and that instance is given the
    custom set again (bob is still denied), not the built-in one."""
    failures = {"left": 0}

    def random_bytes(n):
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("no entropy")
        return os.urandom(n)

    custom = MfaReset(policies=os.environ["MFA_RESET_CUSTOM_POLICIES"],
                      random_bytes=random_bytes, cache_dir=CACHE)
    failures["left"] = 1
    with pytest.raises(EngineError):
        custom.start_enrolment(a_request("R2 enrolment starts with a new key"))
    assert failures["left"] == 0, "the randomness was asked for"
    decision = custom.decide(a_request(SELF_RESET))["decision"]
    assert decision["policy_ids"] == ["bob-may-not-reset"], decision
