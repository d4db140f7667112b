"""Command line of the API.

    python -m api serve --host 127.0.0.1 --port 8470
    python -m api work                                          (the job service alone: workers, HA, sync)
    python -m api token create --user NAME --role admin|user [--expires-in DAYS] [--max-queued N]
                                                                (the token is the last line)
    python -m api token list [--user NAME]                      (never the tokens themselves)
    python -m api token revoke ID
    python -m api quota set --user NAME [--vms N] [--vcpus N] [--memory MIB] [--disk GIB]   ('none': no limit)
    python -m api quota show --user NAME

Settings come from VMM_API_* environment variables (VMM_API_DATABASE, an
SQLAlchemy URL, SQLite under /var/lib/vmm/api by default; VMM_API_WORKERS; ...).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
from datetime import timedelta

from .config import Settings
from .private import UMASK
from .realtime import RealtimeRequests, make_realtime
from .store import MAX_EXPIRES_IN, MAX_QUEUED, ROLES, Store, utcnow


def _name(value):
    if not re.fullmatch(r"[A-Za-z0-9](\.?[A-Za-z0-9_-])*", value) or len(value) > 64:
        raise argparse.ArgumentTypeError("1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def _bounded(low, high):
    def parse(value):
        if not re.fullmatch(r"[0-9]{1,9}", value) or not low <= int(value) <= high:
            raise argparse.ArgumentTypeError(f"an integer {low}..{high}")
        return int(value)
    return parse


def parser():
    root = argparse.ArgumentParser(prog="python -m api", description="vmm jobs API")
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API (waitress)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8470)
    serve.add_argument("--threads", type=int, default=16, help="HTTP threads (a followed stdout holds one)")
    commands.add_parser("work", help="run jobs (workers, HA watcher, sync schedule) without serving HTTP; "
                                     "beside `serve` with VMM_API_WORKERS=0, requests never wait on jobs' work")
    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a user if needed and print a new token for it")
    create.add_argument("--user", required=True, type=_name)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--expires-in", type=_bounded(1, MAX_EXPIRES_IN), metavar="DAYS",
                        help="the token expires after DAYS days (default: never)")
    create.add_argument("--max-queued", type=_bounded(1, MAX_QUEUED), metavar="N",
                        help="jobs pending or waiting at once for this token (default: VMM_API_MAX_QUEUED_PER_TOKEN)")
    listing = token_commands.add_parser("list", help="list tokens (never the tokens themselves)")
    listing.add_argument("--user", type=_name)
    revoke = token_commands.add_parser("revoke", help="revoke a token: refused from its next request on")
    revoke.add_argument("id", type=_bounded(1, 2 ** 31 - 1))
    quota = commands.add_parser("quota", help="quotas of users (VMs, vCPUs, memory, disk their VMs may hold)")
    quota_commands = quota.add_subparsers(dest="quota_command", required=True)
    show = quota_commands.add_parser("show", help="print a user's quota, usage and what is left (JSON)")
    show.add_argument("--user", required=True, type=_name)
    set_quota = quota_commands.add_parser("set", help="set a user's limits ('none': no limit; unnamed: kept)")
    set_quota.add_argument("--user", required=True, type=_name)
    for limit, unit in (("vms", "VMs"), ("vcpus", "vCPUs"), ("memory", "MiB"), ("disk", "GiB")):
        set_quota.add_argument(f"--{limit}", type=_limit, default=KEEP, metavar=unit.upper())
    return root


KEEP = object()


def _limit(value):
    if value == "none":
        return None
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise argparse.ArgumentTypeError("a whole number, or 'none' for no limit")
    return int(value)


def quota_command(args, store):
    from .quotas import Quotas

    if args.quota_command == "set":
        limits = store.get_quota(args.user)
        limits.update({limit: getattr(args, limit) for limit in limits if getattr(args, limit) is not KEEP})
        store.set_quota(args.user, limits)
    print(json.dumps(Quotas(store).report(args.user)))
    return 0


def main(argv=None):
    os.umask(UMASK)  # the database, the jobs' directories and the key are the API user's alone
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "quota":
        store = Store(settings.database)
        store.create_schema()
        return quota_command(args, store)
    if args.command == "token":
        store = Store(settings.database)
        store.create_schema()
        return TOKEN_COMMANDS[args.token_command](store, args, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "work":
        return work(settings)
    import waitress

    from . import create_app, stop_services

    app = create_app(settings)
    served = app
    if settings.serve_rt_priority and make_realtime(settings.serve_rt_priority):  # waitress's own thread
        served = RealtimeRequests(app, settings.serve_rt_priority)
    waitress.serve(served, host=args.host, port=args.port, threads=args.threads, ident="vmm",
                   clear_untrusted_proxy_headers=True)
    stop_services(app.extensions["vmm"])
    return 0


def work(settings):
    """The job service in a process of its own, until SIGTERM or SIGINT."""
    from . import build_services, start_services, stop_services

    if settings.workers <= 0:
        print("VMM_API_WORKERS is 0: a job service with no workers has nothing to do", file=sys.stderr)
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    # Background work, so that requests to `serve` come first (the runners go lower still, at job_nice), unless
    # `serve` is real-time and comes first anyway: this process then keeps the normal niceness, as it writes
    # the jobs' progress to the database and holds the write lock a request's insert waits for (measured with
    # bench/api_directory.py: a user's admission p99 23-24 ms beside `work` at nice 10, 11-12 ms at 0).
    if settings.job_nice and not settings.serve_rt_priority:
        background(settings.job_nice)
    services = build_services(settings)
    start_services(services)
    logging.getLogger(__name__).info("job service: %d workers", settings.workers)
    stopping.wait()
    stop_services(services)
    return 0


def background(niceness):
    """This process at `niceness`, in a session (so a scheduler autogroup) of its own at that niceness too:
    the group's weight, not the nice value, is what counts against the sessions of `serve` and a shell.
    Never the niceness of a session it shares: that would lower whoever started it."""
    from .runner import lower_priority

    os.nice(niceness)
    if os.getsid(0) != os.getpid():
        try:
            os.setsid()
        except OSError:  # a process group leader (started by a shell with job control): nice value only
            return
    lower_priority(os.getpid(), niceness)


def token_create(store, args, _settings):
    user = store.ensure_user(args.user, args.role)
    expires = utcnow() + timedelta(days=args.expires_in) if args.expires_in else None
    row, token = store.issue_token(user["id"], expires=expires, max_queued=args.max_queued)
    print(f"user {user['name']} ({user['role']}); new token {row['id']}"
          f"{', expires ' + _when(row['expires']) if row['expires'] else ''}:", file=sys.stderr)
    print(token)
    return 0


def token_list(store, args, settings):
    _, rows = store.token_rows(user=args.user)
    table = [("ID", "USER", "ROLE", "CREATED", "EXPIRES", "REVOKED", "LAST USED", "MAX QUEUED")]
    default = str(settings.max_queued_per_token or "-")
    table += [(str(row["id"]), row["user"], row["role"], _when(row["created"]), _when(row["expires"]),
               _when(row["revoked"]), _when(row["last_used"]), str(row["max_queued"] or default)) for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def token_revoke(store, args, _settings):
    if not store.revoke_token(args.id):
        print(f"no token {args.id}", file=sys.stderr)
        return 1
    print(f"token {args.id} revoked", file=sys.stderr)
    return 0


def _when(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


TOKEN_COMMANDS = {"create": token_create, "list": token_list, "revoke": token_revoke}


if __name__ == "__main__":
    sys.exit(main())
