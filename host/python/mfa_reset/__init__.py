"""mfa-reset from Python: the same component the Rust host embeds, run by
wasmtime (PyPI `wasmtime`, its `wasmtime.component` API).

Plain dicts in, plain dicts out, in the JSON the Rust library and the
sidecar speak (snake_case keys, RFC 3339 times); a bad request raises
`RequestError` with `field` (as the caller wrote it) and `message`, as the
Rust library's `RequestError` and the Node package's do::

    engine = MfaReset()                        # the component packaged with this module
    engine = MfaReset(policies="policies/", support_url="https://help.example/mfa")
    outcome = engine.decide(request_dict)      # {"decision": {...}, "change": ..., ...}
    step = engine.next_login_step(user_dict)   # "none" | "enrol" | "code"
    key = engine.start_enrolment(enrol_dict)   # {"key": {"uri": "otpauth://…", "qr_png_base64": …}, …}
    checked = engine.verify_login(code_dict)   # {"result": "accepted", "authenticator": ...}

The guest is sandboxed: it gets randomness (from `os.urandom`, for TOTP
keys) and nothing else — no filesystem, environment, arguments, clock or
network (every other import traps). The compiled component is cached in
`~/.cache/mfa-reset-python` (or `cache_dir`), used only from a directory
and file no one else can write; after any trap the store and instance
are thrown away and the next call gets fresh ones.
"""

from __future__ import annotations

import datetime as _dt
import base64
import hashlib
import importlib.metadata
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

import wasmtime
import wasmtime.component as wc

__all__ = ["MfaReset", "RequestError", "PolicyError", "EngineError"]

_EXPORT = "mfa-reset:engine/engine@0.6.0"
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


class RequestError(ValueError):
    """A request the engine refuses: `field` says which, as the caller wrote it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PolicyError(ValueError):
    """A policy set the engine refuses; the set in force keeps deciding.
    `diagnostics`: each problem's `severity`, `file`, `line`, `column`,
    `policy_id`, `message` and `help`."""

    def __init__(self, message: str, diagnostics: list[dict[str, Any]] | None = None):
        self.diagnostics = diagnostics or []
        shown = "".join(f"\n{d['file']}:{d['line']}:{d['column']}: {d['message']}"
                        for d in self.diagnostics)
        super().__init__(message + shown)


class EngineError(RuntimeError):
    """The component trapped or failed; the next call starts afresh."""


# ---- JSON (the library's shape) -> component values -------------------

def _record(fields: dict) -> wc.Record:
    # wasmtime's own Record class: an option's payload must be one.
    record = wc.Record()
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def _require(value: Any, kind: type, field: str, what: str) -> Any:
    # bool is an int in Python, and "false" is truthy: check the exact type.
    if type(value) is not kind:
        raise RequestError(field, f"must be {what}")
    return value


def _object(value: Any, field: str, keys: set[str], optional: frozenset[str] = frozenset()) -> dict:
    if type(value) is not dict:
        raise RequestError(field or "(request)", "must be an object")
    for key in value:
        if key not in keys and key not in optional:
            raise RequestError(f"{field}.{key}" if field else key, "unknown field")
    for key in keys:
        if key not in value:
            raise RequestError(f"{field}.{key}" if field else key, "missing")
    return value


_FINER_THAN_MILLIS = "more precise than a millisecond: times are counted in whole milliseconds"
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def _millis(text: Any, field: str) -> int:
    _require(text, str, field, "an RFC 3339 time")
    # fromisoformat alone takes more than RFC 3339 (week dates, no dashes).
    match = _RFC3339.fullmatch(text)
    if not match:
        raise RequestError(field, f"`{text}` is not an RFC 3339 time")
    # Digits past the millisecond would be dropped, moving the time.
    if match.group(1) and match.group(1)[4:].strip("0"):
        raise RequestError(field, _FINER_THAN_MILLIS)
    try:
        # (fromisoformat takes at most 6 fractional digits; milliseconds
        # are all the engine keeps.)
        head, _, rest = text.partition(".")
        if rest:
            digits = re.match(r"\d+", rest).group()
            text = f"{head}.{digits[:6]}{rest[len(digits):]}"
        parsed = _dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as e:
        raise RequestError(field, f"`{text}` is not a valid time: {e}") from None
    return (parsed - _EPOCH) // _dt.timedelta(milliseconds=1)


def _enum(value: Any, field: str, names: tuple[str, ...]) -> str:
    if type(value) is not str or value not in names:
        raise RequestError(field, f"must be one of {', '.join(names)}")
    return value.replace("_", "-")


def _organization(value: Any, field: str) -> wc.Record:
    o = _object(value, field, {"id", "enforce_mfa"})
    return _record({
        "id": _require(o["id"], str, f"{field}.id", "a string"),
        "enforce-mfa": _require(o["enforce_mfa"], bool, f"{field}.enforce_mfa", "true or false"),
    })


def _user(value: Any, field: str) -> wc.Record:
    u = _object(value, field, {"id", "role", "organization", "mfa"}, frozenset({"active"}))
    return _record({
        "id": _require(u["id"], str, f"{field}.id", "a string"),
        "role": _enum(u["role"], f"{field}.role", ("root", "sub_user", "support_agent")),
        "organization": _organization(u["organization"], f"{field}.organization"),
        "mfa": _enum(u["mfa"], f"{field}.mfa", ("off", "enrolment_due", "active")),
        # Left out means active (R13), as in the Rust library's JSON.
        "active": _require(u.get("active", True), bool, f"{field}.active", "true or false"),
    })


def _session(value: Any, field: str) -> wc.Record:
    s = _object(value, field, {"login_at", "last_activity_at", "mfa_satisfied"},
                frozenset({"recovery_code_login"}))
    return _record({
        "login-at": _millis(s["login_at"], f"{field}.login_at"),
        "last-activity-at": _millis(s["last_activity_at"], f"{field}.last_activity_at"),
        "mfa-satisfied": _require(s["mfa_satisfied"], bool, f"{field}.mfa_satisfied", "true or false"),
        # R15: left out means false, as in the Rust library's JSON.
        "recovery-code-login": _require(s.get("recovery_code_login", False), bool,
                                        f"{field}.recovery_code_login", "true or false"),
    })


def _uint(value: Any, field: str, bits: int = 32) -> int:
    # The component's integers have a width; wasmtime would truncate.
    if type(value) is not int or not 0 <= value < 2**bits:
        raise RequestError(field, f"must be a whole number from 0 to {2**bits - 1}")
    return value


def _base32(value: Any, field: str) -> bytes:
    text = _require(value, str, field, "base32 text")
    try:
        return base64.b32decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 8))
    except (ValueError, base64.binascii.Error):
        raise RequestError(field, "not base32") from None


def _totp_key(value: Any, field: str) -> wc.Record | None:
    if value is None:
        return None
    k = _object(value, field, {"secret", "digits", "period"})
    raw = _base32(k["secret"], f"{field}.secret")
    return _record({"secret": raw, "digits": _uint(k["digits"], f"{field}.digits", 8),
                              "period": _uint(k["period"], f"{field}.period")})


def _recovery_codes(value: Any, field: str) -> wc.Record | None:
    """R15: the saved recovery codes' keyed hashes (left out: none)."""
    if value is None:
        return None
    c = _object(value, field, {"key", "hashes"})
    if type(c["hashes"]) is not list:
        raise RequestError(f"{field}.hashes", "must be a list of base32 texts")
    return _record({
        "key": _base32(c["key"], f"{field}.key"),
        "hashes": [_base32(h, f"{field}.hashes[{i}]") for i, h in enumerate(c["hashes"])],
    })


def _authenticator(value: Any, field: str) -> wc.Record:
    a = _object(value, field, {"pending", "active", "last_accepted_step", "failures", "locked_until"},
                frozenset({"recovery_codes"}))
    step, locked = a["last_accepted_step"], a["locked_until"]
    return _record({
        "recovery-codes": _recovery_codes(a.get("recovery_codes"), f"{field}.recovery_codes"),
        "pending": _totp_key(a["pending"], f"{field}.pending"),
        "active": _totp_key(a["active"], f"{field}.active"),
        "last-accepted-step": None if step is None else _uint(step, f"{field}.last_accepted_step", 64),
        "failures": _uint(a["failures"], f"{field}.failures"),
        "locked-until": None if locked is None else _millis(locked, f"{field}.locked_until"),
    })


def _code_request(value: Any) -> wc.Record:
    r = _object(value, "", {"user", "session", "authenticator", "code", "now", "lockout"})
    lockout = _object(r["lockout"], "lockout", {"max_failures", "base_delay_seconds", "max_delay_seconds"})
    return _record({
        "user": _user(r["user"], "user"),
        "session": _session(r["session"], "session"),
        "authenticator": _authenticator(r["authenticator"], "authenticator"),
        "code": _require(r["code"], str, "code", "a string"),
        "now": _millis(r["now"], "now"),
        "lockout": _record({
            "max-failures": _uint(lockout["max_failures"], "lockout.max_failures"),
            "base-delay-seconds": _uint(lockout["base_delay_seconds"], "lockout.base_delay_seconds"),
            "max-delay-seconds": _uint(lockout["max_delay_seconds"], "lockout.max_delay_seconds"),
        }),
    })


def _recovery_codes_request(value: Any) -> wc.Record:
    r = _object(value, "", {"user", "session", "authenticator", "now"})
    return _record({
        "user": _user(r["user"], "user"),
        "session": _session(r["session"], "session"),
        "authenticator": _authenticator(r["authenticator"], "authenticator"),
        "now": _millis(r["now"], "now"),
    })


def _enrolment_request(value: Any) -> wc.Record:
    r = _object(value, "", {"user", "session", "authenticator", "now", "issuer"})
    return _record({
        "user": _user(r["user"], "user"),
        "session": _session(r["session"], "session"),
        "authenticator": _authenticator(r["authenticator"], "authenticator"),
        "now": _millis(r["now"], "now"),
        "issuer": _require(r["issuer"], str, "issuer", "a string"),
    })


_PLAIN_ACTIONS = ("reset_own_mfa", "enable_own_mfa", "disable_own_mfa", "view_own_session",
                  "change_own_password")


def _action(value: Any) -> wc.Variant:
    if type(value) is str:
        if value not in _PLAIN_ACTIONS:
            raise RequestError("action", f"unknown action `{value}`")
        return wc.Variant(value.replace("_", "-"))
    if type(value) is not dict or len(value) != 1:
        raise RequestError("action", "must be an action name or an object with one action")
    (name, arg), = value.items()
    field = f"action.{name}"
    if name in ("reset_user_mfa", "enable_user_mfa", "disable_user_mfa",
                "deactivate_user", "reactivate_user", "invite_user"):
        payload: Any = _user(arg, field)
    elif name == "set_enforcement":
        payload = _require(arg, bool, field, "true or false")
    elif name == "list_users":
        _require(arg, list, field, "a list of users")
        payload = [_user(u, f"{field}[{i}]") for i, u in enumerate(arg)]
    elif name == "access_route":
        payload = _require(arg, str, field, "a route's action name")
    else:
        raise RequestError("action", f"unknown action `{name}`")
    return wc.Variant(name.replace("_", "-"), payload)


def _provisioning_action(value: Any) -> wc.Variant:
    if type(value) is str:
        if value != "read_users":
            raise RequestError("action", f"unknown action `{value}`")
        return wc.Variant("read-users")
    if type(value) is not dict or len(value) != 1:
        raise RequestError("action", "must be an action name or an object with one action")
    (name, arg), = value.items()
    field = f"action.{name}"
    if name in ("read_user", "update_user", "deactivate_user", "reactivate_user"):
        return wc.Variant(name.replace("_", "-"), _user(arg, field))
    if name == "create_user":
        return wc.Variant("create-user", _require(arg, str, field, "a user id"))
    raise RequestError("action", f"unknown action `{name}`")


def _provisioning_request(value: Any) -> wc.Record:
    """An identity provider's request (R13, SCIM): its token as principal."""
    r = _object(value, "", {"provisioner", "now", "action"})
    p = _object(r["provisioner"], "provisioner", {"id", "organization"})
    return _record({
        "provisioner": _record({
            "id": _require(p["id"], str, "provisioner.id", "a string"),
            "organization": _organization(p["organization"], "provisioner.organization"),
        }),
        "now": _millis(r["now"], "now"),
        "action": _provisioning_action(r["action"]),
    })


_IDENTITY_CHECKS = ("code_to_email_on_file", "callback_to_phone_on_file", "confirmed_by_root",
                    "document_check")
_RECOVERY_ACTIONS = ("open_case", "approve_case", "issue_ticket", "cancel_case", "cancel_by_link",
                     "redeem_ticket")


def _recovery_case(value: Any, field: str) -> wc.Record:
    c = _object(value, field, {"id", "account", "opened_by", "opened_at", "checks", "state"},
                frozenset({"approved_by", "ticket_issued_at"}))
    checks = _require(c["checks"], list, f"{field}.checks", "a list of identity checks")
    approved, issued = c.get("approved_by"), c.get("ticket_issued_at")
    return _record({
        "id": _require(c["id"], str, f"{field}.id", "a string"),
        "account": _user(c["account"], f"{field}.account"),
        "opened-by": _require(c["opened_by"], str, f"{field}.opened_by", "a string"),
        "opened-at": _millis(c["opened_at"], f"{field}.opened_at"),
        "checks": [_enum(x, f"{field}.checks[{i}]", _IDENTITY_CHECKS) for i, x in enumerate(checks)],
        "approved-by": None if approved is None
        else _require(approved, str, f"{field}.approved_by", "a string"),
        "state": _enum(c["state"], f"{field}.state", ("open", "cancelled", "ticket_issued", "redeemed")),
        "ticket-issued-at": None if issued is None else _millis(issued, f"{field}.ticket_issued_at"),
    })


def _recovery_request(value: Any) -> wc.Record:
    """A step of a support desk's recovery case (R14)."""
    r = _object(value, "", {"session", "now", "account_has_active_session", "action", "case"},
                frozenset({"caller"}))
    caller = r.get("caller")
    return _record({
        "caller": None if caller is None else _user(caller, "caller"),
        "session": _session(r["session"], "session"),
        "now": _millis(r["now"], "now"),
        "account-has-active-session": _require(r["account_has_active_session"], bool,
                                               "account_has_active_session", "true or false"),
        "action": _enum(r["action"], "action", _RECOVERY_ACTIONS),
        "case": _recovery_case(r["case"], "case"),
    })


def _request(value: Any) -> wc.Record:
    r = _object(value, "", {"actor", "session", "now", "action"})
    return _record({
        "actor": _user(r["actor"], "actor"),
        "session": _session(r["session"], "session"),
        "now": _millis(r["now"], "now"),
        "action": _action(r["action"]),
    })


# ---- component values -> JSON ------------------------------------------

def _rfc3339(ms: int) -> str:
    t = _EPOCH + _dt.timedelta(milliseconds=ms)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}".rstrip("0")
    return text + "Z"


def _name(kebab: str) -> str:
    return kebab.replace("-", "_")


def _get(record: Any, key: str) -> Any:
    return getattr(record, key)


def _user_json(u: Any) -> dict:
    org = _get(u, "organization")
    return {
        "id": u.id,
        "role": _name(u.role),
        "organization": {"id": org.id, "enforce_mfa": _get(org, "enforce-mfa")},
        "mfa": _name(u.mfa),
        "active": u.active,
    }


def _decision_json(d: Any) -> dict:
    out = {
        "allowed": d.allowed,
        "policy_ids": list(_get(d, "policy-ids")),
        "denial_code": _get(d, "denial-code"),
        "message": d.message,
    }
    if d.errors:
        out["errors"] = list(d.errors)
    return out


def _audit_json(a: Any) -> dict | None:
    if a is None:
        return None
    return {
        "at": _rfc3339(a.at),
        "actor": a.actor,
        "organization": a.organization,
        "action": a.action,
        "target": a.target,
        "allowed": a.allowed,
        "policy_ids": list(_get(a, "policy-ids")),
        "denial_code": _get(a, "denial-code"),
    }


def _change_json(c: Any) -> dict | None:
    if c is None:
        return None
    if c.tag == "user":
        # The new authenticator holds key material: not part of the JSON.
        return {"user": _user_json(c.payload.user)}
    org = c.payload
    return {"organization": {"id": org.id, "enforce_mfa": _get(org, "enforce-mfa")}}


def _key_json(k: Any) -> dict | None:
    if k is None:
        return None
    return {"secret": base64.b32encode(bytes(k.secret)).decode().rstrip("="),
            "digits": k.digits, "period": k.period}


def _authenticator_json(a: Any) -> dict:
    locked = _get(a, "locked-until")
    out = {
        "pending": _key_json(a.pending),
        "active": _key_json(a.active),
        "last_accepted_step": _get(a, "last-accepted-step"),
        "failures": a.failures,
        "locked_until": None if locked is None else _rfc3339(locked),
    }
    codes = _get(a, "recovery-codes")
    if codes is not None:  # left out when there are none, as in the Rust library's JSON
        b32 = lambda raw: base64.b32encode(bytes(raw)).decode().rstrip("=")  # noqa: E731
        out["recovery_codes"] = {"key": b32(codes.key), "hashes": [b32(h) for h in codes.hashes]}
    return out


def _verification_json(v: Any) -> dict:
    return {
        "decision": _decision_json(v.decision),
        "result": _name(getattr(v, "result")),
        "message": v.message,
        "user": _user_json(v.user),
        "authenticator": _authenticator_json(v.authenticator),
        "audit": _audit_json(v.audit),
        "recovery_codes": list(_get(v, "recovery-codes")),
        "recovery_codes_left": _get(v, "recovery-codes-left"),
    }


def _new_codes_json(n: Any) -> dict:
    return {
        "decision": _decision_json(n.decision),
        "codes": list(n.codes),
        "authenticator": _authenticator_json(n.authenticator),
        "sessions": _name(n.sessions),
        "audit": _audit_json(n.audit),
    }


def _enrolment_json(e: Any) -> dict:
    key = e.key
    return {
        "decision": _decision_json(e.decision),
        "key": None if key is None else {
            "uri": key.uri,
            "qr_png_base64": base64.b64encode(bytes(_get(key, "qr-png"))).decode(),
            "qr_text": _get(key, "qr-text"),
        },
        "authenticator": _authenticator_json(e.authenticator),
        "audit": _audit_json(e.audit),
    }


def _provisioning_outcome_json(o: Any) -> dict:
    return {
        "decision": _decision_json(o.decision),
        "user": None if o.user is None else _user_json(o.user),
        "sessions": _name(o.sessions),
        "audit": _audit_json(o.audit),
    }


def _recovery_outcome_json(o: Any) -> dict:
    c = o.case
    issued = _get(c, "ticket-issued-at")
    return {
        "decision": _decision_json(o.decision),
        "case": {
            "id": c.id,
            "account": _user_json(c.account),
            "opened_by": _get(c, "opened-by"),
            "opened_at": _rfc3339(_get(c, "opened-at")),
            "checks": [_name(x) for x in c.checks],
            "approved_by": _get(c, "approved-by"),
            "state": _name(c.state),
            "ticket_issued_at": None if issued is None else _rfc3339(issued),
        },
        # The new authenticator holds key material: not part of the JSON.
        "account": None if o.account is None else _user_json(o.account.user),
        "sessions": _name(o.sessions),
        "audit": _audit_json(o.audit),
    }


def _outcome_json(o: Any) -> dict:
    out = {
        "decision": _decision_json(o.decision),
        "change": _change_json(o.change),
        "sessions": _name(o.sessions),
        "audit": _audit_json(o.audit),
    }
    if o.users:
        out["users"] = [
            {"id": u.id, "role": _name(u.role), "mfa": _name(u.mfa),
             "effective_mfa": _name(_get(u, "effective-mfa")), "active": u.active}
            for u in o.users
        ]
    return out


# ---- the engine -----------------------------------------------------------

def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mfa-reset-python"


def _private(path: Path) -> bool:
    """Exists, is ours, and neither group nor others may write it."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    return (info.st_uid == os.getuid() and not stat.S_ISLNK(info.st_mode)
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _packaged_component() -> Path:
    """The component built into this package (absent from a source checkout)."""
    return Path(__file__).with_name("mfa-reset.wasm")


def _source_file(path: Path) -> wc.Record:
    try:
        # Byte for byte (line ends included): the set's revision is a hash of it.
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"cannot read `{path}`: {e}") from None
    return _record({"name": str(path), "text": text})


def _policy_files(directory: Path) -> tuple[list[wc.Record], wc.Record]:
    """Every `*.cedar` file of `directory`, in name order, and its one
    `*.cedarschema` file: a policy directory as the Rust host reads it."""
    if not directory.is_dir():
        raise PolicyError(f"policies: `{directory}` is not a directory")
    # Files only, through symlinks (a Kubernetes ConfigMap's files are symlinks).
    policies = sorted(p for p in directory.glob("*.cedar") if p.is_file())
    schemas = sorted(p for p in directory.glob("*.cedarschema") if p.is_file())
    if not policies:
        raise PolicyError(f"policies: no `*.cedar` file in `{directory}`")
    if len(schemas) != 1:
        raise PolicyError(f"policies: `{directory}` needs exactly one `*.cedarschema` file, "
                          f"not {len(schemas)}")
    return [_source_file(p) for p in policies], _source_file(schemas[0])


def _diagnostic_json(d: Any) -> dict[str, Any]:
    return {"severity": _name(d.severity), "file": d.file, "line": d.line,
            "column": d.column, "policy_id": _get(d, "policy-id"),
            "message": d.message, "help": d.help}


class MfaReset:
    """The mfa-reset component, loaded once; one call at a time per object.

    `wasm_path`: a component file (default: the one packaged here).
    `policies`: a directory of `*.cedar` files and one `*.cedarschema`
    (default: the set built into the component). `support_url`: shown to
    users whose session expired (R8). A set with errors raises
    `PolicyError`."""

    def __init__(self, wasm_path: str | os.PathLike[str] | None = None, *,
                 policies: str | os.PathLike[str] | None = None,
                 support_url: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None,
                 random_bytes: Callable[[int], bytes] = os.urandom):
        if support_url is not None and type(support_url) is not str:
            raise TypeError("support_url: must be a string")
        wasm = Path(wasm_path) if wasm_path is not None else _packaged_component()
        if not wasm.is_file():
            raise EngineError(f"no component at `{wasm}`" + (
                "" if wasm_path is not None else
                ": this is a source checkout; build the package (host/python/build-wheel.sh)"))
        self._engine = wasmtime.Engine()
        self._component = self._load(wasm, cache_dir)
        self._linker = wc.Linker(self._engine)
        with self._linker.root() as root:
            with root.add_instance("wasi:random/random@0.2.6") as random:
                random.add_func("get-random-bytes", lambda _s, n: random_bytes(n))
                random.add_func("get-random-u64",
                                lambda _s: int.from_bytes(random_bytes(8), "little"))
            with root.add_instance("wasi:random/insecure-seed@0.2.6") as seed:
                seed.add_func("insecure-seed", lambda _s: (
                    int.from_bytes(random_bytes(8), "little"),
                    int.from_bytes(random_bytes(8), "little")))
        # Filesystem, environment, arguments, exit, stdio: all trap.
        self._linker.define_unknown_imports_as_traps(self._component)
        self._policy_set: wc.Record | None = None
        self._fresh()
        if policies is not None or support_url is not None:
            if policies is not None:
                files, schema = _policy_files(Path(policies))
            else:
                default = self._funcs["default-policy-set"](self._store)
                files, schema = list(default.policies), default.schema
            if support_url is None:
                support_url = getattr(self._funcs["default-policy-set"](self._store),
                                      "support-url")
            chosen = _record({"policies": files, "schema": schema, "support-url": support_url})
            self._load_policies(chosen)
            self._policy_set = chosen

    def _load_policies(self, chosen: wc.Record) -> None:
        answer = self._funcs["load-policy-set"](self._store, chosen)
        if isinstance(answer, wc.Variant) and answer.tag in ("ok", "err"):
            answer = answer.payload if answer.tag == "err" else None
        if isinstance(answer, list):
            diagnostics = [_diagnostic_json(d) for d in answer]
            errors = sum(d["severity"] == "error" for d in diagnostics)
            raise PolicyError(f"invalid policy set ({errors} error(s))", diagnostics)

    def _load(self, wasm: Path, cache_dir: str | os.PathLike | None) -> wc.Component:
        data = wasm.read_bytes()
        # A compiled form is only good for the wasmtime that made it.
        version = importlib.metadata.version("wasmtime")
        digest = hashlib.sha256(data + version.encode()).hexdigest()[:16]
        cache = Path(cache_dir) if cache_dir else _default_cache_dir()
        compiled = cache / f"{wasm.stem}-{digest}.cwasm"
        # The compiled form is native code that is run as it is: use it
        # only from a directory and file no one but us can write.
        self.from_cache = _private(cache) and _private(compiled)
        if self.from_cache:
            return wc.Component.deserialize_file(self._engine, str(compiled))
        component = wc.Component(self._engine, data)
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _private(cache):
            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(component.serialize())
            os.replace(tmp, compiled)
        return component

    def _fresh(self) -> None:
        self._store = wasmtime.Store(self._engine)
        instance = self._linker.instantiate(self._store, self._component)
        interface = instance.get_export_index(self._store, _EXPORT)
        self._funcs = {
            name: instance.get_func(self._store, instance.get_export_index(
                self._store, name, interface))
            for name in ("decide", "decide-provisioning", "decide-recovery", "next-login-step",
                         "start-enrolment",
                         "verify-login", "confirm-enrolment", "use-recovery-code",
                         "regenerate-recovery-codes", "default-policy-set", "load-policy-set")
        }
        # A fresh instance holds the built-in set: give it the chosen one.
        if getattr(self, "_policy_set", None) is not None:
            self._load_policies(self._policy_set)

    def _call(self, name: str, value: Any) -> Any:
        try:
            answer = self._funcs[name](self._store, value)
        except Exception as e:  # a trap, or one of our imports failing
            self._fresh()
            raise EngineError(f"the component failed: {e}") from None
        ok = True
        if isinstance(answer, wc.Variant) and answer.tag in ("ok", "err"):
            ok, answer = answer.tag == "ok", answer.payload
        if not ok:
            raise RequestError(_name(answer.field), answer.message)
        return answer

    def decide(self, request: dict) -> dict:
        """Decides `request` (the library's JSON); returns the outcome."""
        return _outcome_json(self._call("decide", _request(request)))

    def decide_provisioning(self, request: dict) -> dict:
        """Decides an identity provider's request (SCIM, R13); returns the outcome."""
        return _provisioning_outcome_json(
            self._call("decide-provisioning", _provisioning_request(request)))

    def decide_recovery(self, request: dict) -> dict:
        """Decides a step of a support desk's recovery case (R14); returns the outcome."""
        return _recovery_outcome_json(self._call("decide-recovery", _recovery_request(request)))

    def next_login_step(self, user: dict) -> str:
        """What `user`'s next login demands: "none", "enrol" or "code"."""
        return _name(self._call("next-login-step", _user(user, "user")))

    def start_enrolment(self, request: dict) -> dict:
        """Starts an enrolment (decided by the policies first): a new key,
        its otpauth:// URI and QR code, and the authenticator to store."""
        return _enrolment_json(self._call("start-enrolment", _enrolment_request(request)))

    def verify_login(self, request: dict) -> dict:
        """Checks a login's code (decided by the policies first); returns
        the verification with the authenticator to store."""
        return _verification_json(self._call("verify-login", _code_request(request)))

    def confirm_enrolment(self, request: dict) -> dict:
        """Confirms a pending enrolment with its first code."""
        return _verification_json(self._call("confirm-enrolment", _code_request(request)))

    def use_recovery_code(self, request: dict) -> dict:
        """R15: a recovery code instead of a login code (decided by the
        policies first); each is accepted once. Mark the session
        `recovery_code_login`."""
        return _verification_json(self._call("use-recovery-code", _code_request(request)))

    def regenerate_recovery_codes(self, request: dict) -> dict:
        """R15: a new set of recovery codes (show them once); the old set is void."""
        return _new_codes_json(
            self._call("regenerate-recovery-codes", _recovery_codes_request(request)))
