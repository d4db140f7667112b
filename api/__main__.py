"""Command line of the API.

    python -m api serve --host 127.0.0.1 --port 8470
    python -m api token create --user NAME --role admin|user    (the token is the last line)
    python -m api quota set --user NAME [--vms N] [--vcpus N] [--memory MIB] [--disk GIB]   ('none': no limit)
    python -m api quota show --user NAME

Settings come from VMM_API_* environment variables (VMM_API_DATABASE, an
SQLAlchemy URL, SQLite under /var/lib/vmm/api by default; VMM_API_WORKERS; ...).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys

from .config import Settings
from .store import ROLES, Store


def _name(value):
    if not re.fullmatch(r"[A-Za-z0-9](\.?[A-Za-z0-9_-])*", value) or len(value) > 64:
        raise argparse.ArgumentTypeError("1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def parser():
    root = argparse.ArgumentParser(prog="python -m api", description="vmm jobs API")
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API (waitress)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8470)
    serve.add_argument("--threads", type=int, default=16, help="HTTP threads (a followed stdout holds one)")
    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a user if needed and print a new token for it")
    create.add_argument("--user", required=True, type=_name)
    create.add_argument("--role", required=True, choices=ROLES)
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
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "quota":
        store = Store(settings.database)
        store.create_schema()
        return quota_command(args, store)
    if args.command == "token":
        store = Store(settings.database)
        store.create_schema()
        user = store.ensure_user(args.user, args.role)
        print(f"user {user['name']} ({user['role']}); new token:", file=sys.stderr)
        print(store.create_token(user["id"]))
        return 0
    import waitress

    from . import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="vmm",
                   clear_untrusted_proxy_headers=True)
    app.extensions["vmm"].ha.stop()
    app.extensions["vmm"].sync.stop()
    app.extensions["vmm"].jobs.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
