"""Schemathesis hooks for the HTTP API fuzz run (tests/service/api_fuzz.rs).

- Every test case runs in a fresh session, so that a fuzzed logout or
  self-reset cannot end the session the next case needs: the acme root
  `ada` for the organization's functions, the sub-user `bob` for his own
  MFA and login steps (changing them never locks ada out), and the globex
  root `gus` for enforcement (switched on, it sends its organization's
  password-only sessions back to MFA). The login claims another client address (X-Forwarded-For, believed
  from the loopback proxy) so that the fuzzer's own wrong passwords, which
  throttle 127.0.0.1, never throttle it.
- A custom check: every answer refusing bad input (400, 413, 415, 422)
  names the field at fault.
"""

import os

import requests
import schemathesis

BASE = os.environ["MFA_RESET_FUZZ_BASE"]


def user_for(path):
    if path == "/api/org/enforcement":
        return "gus"
    if path.startswith(("/api/me/", "/api/enrolment/", "/api/login")):
        return "bob"
    return "ada"


def login(user):
    answer = requests.post(
        f"{BASE}/api/login",
        json={"user": user, "password": f"{user}-demo-password"},
        headers={"X-Forwarded-For": "192.0.2.7"},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()


@schemathesis.auth(refresh_interval=None)
class FreshSession:
    def get(self, case, context):
        user = user_for(case.operation.path)
        session = login(user)
        if user == "bob" and session.get("next_step") != "none":
            # A fuzzed enable or reset left bob needing MFA: his root turns
            # it off (R4), and he logs in with his password alone again.
            ada = login("ada")["token"]
            requests.post(
                f"{BASE}/api/org/users/bob/mfa/disable",
                json={},
                headers={"Authorization": f"Bearer {ada}"},
                timeout=30,
            ).raise_for_status()
            session = login(user)
        return session["token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.check
def bad_input_names_the_field(ctx, response, case):
    if response.status_code not in (400, 413, 415, 422):
        return None
    try:
        error = response.json().get("error") or {}
    except ValueError:
        raise AssertionError(f"{response.status_code} answer is not JSON: {response.text[:200]!r}")
    field = error.get("field")
    if not isinstance(field, str) or not field:
        raise AssertionError(
            f"{response.status_code} refuses the input without naming the field: {response.text[:300]}"
        )
    return None
