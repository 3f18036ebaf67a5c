#!/usr/bin/env python3
"""Run every scim2-tester check against a live SCIM 2.0 server
(tests/service/scim.rs runs it against `serve`'s /scim/v2).

Usage:
    check_server.py BASE_URL TOKEN [-v] [--resource-type User]...
                  [--include-tag TAG]... [--exclude-tag TAG]... [--timeout S]

    BASE_URL  e.g. http://127.0.0.1:8080/scim/v2  (endpoints are appended to it)
    TOKEN     bearer token, sent as "Authorization: Bearer TOKEN"
              ("" = no Authorization header; "-" = read it from $SCIM_TOKEN)

Prints one line per CheckResult: STATUS  [ResourceType] check_name: reason
Exit code: 0 if no check is ERROR/CRITICAL, 1 otherwise, 2 if the run crashed.

SKIPPED is fine: scim2-tester 0.5.x uses it when the ServiceProviderConfig says
patch.supported=false, when a model has no attribute suitable for a check, when
POST /.search answers 501, or when a tag filter excludes a check.
Pinned with scim2-tester==0.5.2, scim2-client==0.13.2, scim2-models==0.12.3
and httpx2==2.17.0 in tests/requirements.txt.
"""

import argparse
import os
import sys
import traceback

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status
from scim2_tester import check_server

# Statuses that mean "the server violates a MUST". SUCCESS/COMPLIANT/ACCEPTABLE
# are passes; DEVIATION is a SHOULD-level warning; SKIPPED is not a failure.
FAILING = {Status.ERROR, Status.CRITICAL}


def one_line(text) -> str:
    return " | ".join(str(text).split("\n")) if text is not None else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base_url")
    ap.add_argument("token")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print result.data")
    ap.add_argument("--resource-type", action="append", dest="resource_types",
                    help="only test these resource type names (repeatable)")
    ap.add_argument("--include-tag", action="append", dest="include_tags")
    ap.add_argument("--exclude-tag", action="append", dest="exclude_tags")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--strict-deviation", action="store_true",
                    help="also fail on Status.DEVIATION (never emitted by 0.5.2)")
    args = ap.parse_args()

    token = os.environ.get("SCIM_TOKEN", "") if args.token == "-" else args.token
    headers = {"Accept": "application/scim+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    failing = FAILING | ({Status.DEVIATION} if args.strict_deviation else set())

    http = Client(base_url=args.base_url.rstrip("/"), headers=headers, timeout=args.timeout)
    # A bare client: check_server() fills client.provider from the discovery endpoints.
    scim = SyncSCIMClient(http)
    try:
        results = check_server(
            scim,
            raise_exceptions=False,
            include_tags=set(args.include_tags) if args.include_tags else None,
            exclude_tags=set(args.exclude_tags) if args.exclude_tags else None,
            resource_types=args.resource_types,
        )
    except Exception:  # noqa: BLE001 - a crash of the tester itself
        traceback.print_exc()
        return 2
    finally:
        http.close()

    counts: dict[str, int] = {}
    failed = 0
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        if r.status in failing:
            failed += 1
        rt = f"[{r.resource_type}] " if r.resource_type else ""
        print(f"{r.status.name:<8} {rt}{r.title}: {one_line(r.reason)}")
        if args.verbose and r.data is not None and r.status is not Status.SUCCESS:
            print(f"         data: {one_line(r.data)}")

    # check_server() returns early (after discovery) if it cannot describe the
    # server; a run that never reached the per-resource-type checks is a failure.
    crud_ran = any(r.resource_type for r in results)
    if not crud_ran and not (args.include_tags or args.exclude_tags):
        print("ERROR    no resource-type check ran (discovery incomplete?)")
        failed += 1

    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"\n{len(results)} results: {summary}; failing={failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
