"""Drive fake-canvas with canvasapi, a real third-party Canvas client.

Run by canvasapi_conformance.rs (beside it, in the `it` test binary) with the venv that .ci/install-tools makes:

    python canvasapi_conformance.py --base http://127.0.0.1:PORT --token TOKEN

It prints one JSON document on stdout: for each step, what canvasapi returned (or the
exception it raised, under "error"). The Rust test checks every value; this script only
reports. Every loop is bounded and every request has a timeout.

Known canvasapi bugs this script works around (canvasapi 3.6.0):

1. SisImport.abort() (PUT .../sis_imports/:id/abort) builds the SisImport it returns
   without `account_id`, unlike create_sis_import, get_sis_import and the two lists,
   which all add it. So calling abort() or restore_states() on abort()'s result raises
   AttributeError. This is the one SIS call with a bug of its own. Workaround: fetch
   the import again with Account.get_sis_import(id) before calling its methods.
2. Not SIS-specific: every PaginatedList ignores a caller's per_page (ucfopen/canvasapi
   issue 685): it sends the caller's value and then its own `per_page=100`, and Canvas
   (Rails) keeps the last one. Workaround: set the list's own per_page before iterating.
"""

import argparse
import json
import os
import sys
import tempfile
import traceback
import warnings
import zipfile

# Loopback only: never send these requests through a proxy.
for _k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_k, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

try:
    import requests
    import canvasapi
    from canvasapi import Canvas
except ImportError as e:  # pragma: no cover
    print(f"canvasapi_conformance: cannot import canvasapi: {e}", file=sys.stderr)
    sys.exit(3)

# canvasapi sets no timeout; a hung server must not hang the test.
_orig_request = requests.Session.request


def _request_with_timeout(self, *args, **kwargs):
    kwargs.setdefault("timeout", 10)
    return _orig_request(self, *args, **kwargs)


requests.Session.request = _request_with_timeout
# canvasapi warns about plain-http base URLs; loopback is http.
warnings.simplefilter("ignore")

TERMINAL = {
    "imported",
    "imported_with_messages",
    "failed",
    "failed_with_messages",
    "aborted",
    "restored",
    "partially_restored",
}
MAX_POLLS = 20


def sis_fields(s):
    """The SisImport attributes the Rust side checks (absent ones as None)."""
    keys = [
        "id",
        "workflow_state",
        "progress",
        "created_at",
        "started_at",
        "ended_at",
        "batch_mode",
        "batch_mode_term_id",
        "override_sis_stickiness",
        "add_sis_stickiness",
        "change_threshold",
        "skip_deletes",
        "account_id",
        "user",
        "data",
        "processing_warnings",
        "processing_errors",
        "errors_attachment",
    ]
    return {k: getattr(s, k, None) for k in keys}


def make_bundle(tmp):
    """A small zip: users (one with a bad status), courses, enrollments."""
    path = os.path.join(tmp, "sis_bundle.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "users.csv",
            "user_id,login_id,status\nu1,l1,active\nu2,l2,active\nu3,l3,bogus\n",
        )
        z.writestr("courses.csv", "course_id,short_name,long_name,status\nc1,C1,Course 1,active\n")
        z.writestr(
            "enrollments.csv",
            "course_id,user_id,role,status\nc1,u1,student,active\nc1,u2,teacher,active\n",
        )
    return path


def poll_to_end(account, sis_id):
    """get_sis_import until terminal: the states seen (in order, once each) and the last."""
    states, progress, last = [], [], None
    for _ in range(MAX_POLLS):
        last = account.get_sis_import(sis_id)
        if not states or states[-1] != last.workflow_state:
            states.append(last.workflow_state)
        progress.append(last.progress)
        if last.workflow_state in TERMINAL:
            break
    return states, progress, last


def list_all(account, per_page):
    lst = account.get_sis_imports(per_page=per_page)
    # Workaround 2 (issue 685): without this the request ends in per_page=100.
    lst._first_params["per_page"] = per_page
    items = list(lst)
    return {
        "ids": [i.id for i in items],
        "states": [i.workflow_state for i in items],
        "created_at": [i.created_at for i in items],
        "account_ids": sorted({getattr(i, "account_id", None) for i in items}, key=str),
    }


def follow_progress(progress):
    """Progress.query() until completed/failed; the states seen."""
    states = [progress.workflow_state]
    last = progress
    for _ in range(MAX_POLLS):
        last = progress.query()
        states.append(last.workflow_state)
        if last.workflow_state in ("completed", "failed"):
            break
    return states, last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--token", required=True)
    args = ap.parse_args()
    local_base = args.base.replace("127.0.0.1", "localhost")

    out = {"canvasapi_version": canvasapi.__version__, "steps": {}}
    ctx = {}

    def step(name, fn):
        try:
            out["steps"][name] = fn()
        except Exception as e:  # report, don't stop: the Rust side names the step
            out["steps"][name] = {
                "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(),
            }

    tmp = tempfile.mkdtemp(prefix="canvasapi-conformance-")
    bundle = make_bundle(tmp)
    canvas = Canvas(args.base, args.token)

    def get_account():
        ctx["account"] = canvas.get_account(1)
        a = ctx["account"]
        return {"id": a.id, "name": a.name}

    step("get_account", get_account)
    a = ctx.get("account")

    def create():
        s = a.create_sis_import(
            bundle,
            batch_mode=True,
            batch_mode_term_id=1,
            override_sis_stickiness=True,
            add_sis_stickiness=True,
            change_threshold=50,
        )
        ctx["first"] = s
        return sis_fields(s)

    step("create_sis_import", create)

    def get_to_end():
        states, progress, last = poll_to_end(a, ctx["first"].id)
        ctx["first_done"] = last
        return {"states": states, "progress": progress, "last": sis_fields(last)}

    step("get_sis_import", get_to_end)

    def running():
        s = a.create_sis_import(bundle)
        ctx["second"] = s
        first_get = a.get_sis_import(s.id)
        running = list(a.get_sis_imports_running())
        return {
            "created": sis_fields(s),
            "first_get": sis_fields(first_get),
            "running": [sis_fields(r) for r in running],
        }

    step("get_sis_imports_running", running)

    def abort():
        result = ctx["second"].abort()
        # Workaround 1: abort()'s result has no account_id; fetch the import again.
        again = a.get_sis_import(result.id)
        return {
            "result": sis_fields(result),
            "result_has_account_id": hasattr(result, "account_id"),
            "refetched": sis_fields(again),
            "running_after": [r.id for r in a.get_sis_imports_running()],
        }

    step("abort", abort)

    def abort_again():
        # A finished import cannot be aborted: Canvas answers 404 (§2.5).
        try:
            a.get_sis_import(ctx["second"].id).abort()
        except Exception as e:
            return {"raised": type(e).__name__, "message": str(e)}
        return {"raised": None}

    step("abort_finished", abort_again)

    def abort_all():
        queued = [a.create_sis_import(bundle) for _ in range(2)]
        before = [q.workflow_state for q in queued]
        answer = a.abort_sis_imports_pending()
        after = [sis_fields(a.get_sis_import(q.id)) for q in queued]
        return {"before": before, "answer": answer, "after": after}

    step("abort_sis_imports_pending", abort_all)

    step("get_sis_imports", lambda: list_all(a, 3))

    def list_localhost():
        lc = Canvas(local_base, args.token)
        ctx["local_account"] = lc.get_account(1)
        return list_all(ctx["local_account"], 3)

    step("get_sis_imports_localhost", list_localhost)

    def restore_localhost():
        la = ctx["local_account"]
        target = la.get_sis_import(ctx["first"].id)
        p = target.restore_states(batch_mode=True)
        first = {
            "id": p.id,
            "workflow_state": p.workflow_state,
            "url": p.url,
            "context_id": p.context_id,
            "context_type": p.context_type,
            "tag": p.tag,
            "completion": p.completion,
        }
        states, last = follow_progress(p)
        got = Canvas(local_base, args.token).get_progress(p.id)
        return {
            "progress": first,
            "states": states,
            "last": {"workflow_state": last.workflow_state, "completion": last.completion,
                     "url": last.url},
            "get_progress": {"workflow_state": got.workflow_state, "url": got.url},
            "import_after": sis_fields(la.get_sis_import(ctx["first"].id)),
        }

    step("restore_states_localhost", restore_localhost)

    def restore_full():
        seeded = [i for i in a.get_sis_imports() if i.workflow_state == "imported"]
        target = seeded[-1]
        p = target.restore_states()
        states, last = follow_progress(p)
        return {
            "import_id": target.id,
            "progress_url": p.url,
            "states": states,
            "import_after": sis_fields(a.get_sis_import(target.id)),
        }

    step("restore_states", restore_full)

    def restore_both_flags():
        try:
            a.get_sis_import(ctx["first"].id).restore_states(
                undelete_only=True, unconclude_only=True
            )
        except Exception as e:
            return {"raised": type(e).__name__, "message": str(e)}
        return {"raised": None}

    step("restore_states_both_flags", restore_both_flags)

    json.dump(out, sys.stdout, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
