"""``stripe-otel dashboards validate | export | import``."""

from __future__ import annotations

import argparse
import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from stripe_otel.dashboards import VENDORS, DashboardError

__all__ = ["DashboardError", "register"]


def _vendor(name: str) -> ModuleType:
    # Imported on demand: validation needs the vendor's schema libraries.
    try:
        return importlib.import_module(f"stripe_otel.dashboards.{name}")
    except ImportError as exc:
        raise DashboardError(
            f"{name} dashboards need extra packages ({exc.name} is missing): "
            'pip install "stripe-otel[dashboards]"'
        ) from None


def _env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _usage(message: str) -> Exception:
    from stripe_otel.cli import UsageError  # noqa: PLC0415 - avoids an import cycle

    return UsageError(message)


def validate(args: argparse.Namespace) -> int:
    failed = False
    for name in args.vendor or VENDORS:
        module = _vendor(name)
        problems = module.validate(module.build())
        if problems:
            failed = True
            print(f"{name}: {len(problems)} problem(s)")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"{name}: ok")
    return 1 if failed else 0


def export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.vendor or VENDORS:
        path = out / f"{name}-stripe-otel.json"
        path.write_text(json.dumps(_vendor(name).build(), indent=2, sort_keys=True) + "\n")
        print(f"{name}: wrote {path}")
    return 0


def import_(args: argparse.Namespace) -> int:
    module = _vendor(args.vendor)
    board: Any = module.build()
    problems = module.validate(board)
    if problems:
        raise DashboardError(f"the {args.vendor} dashboard is invalid: {problems[0]}")
    if args.vendor == "datadog":
        api_key, app_key = _env("DD_API_KEY"), _env("DD_APP_KEY", "DD_APPLICATION_KEY")
        if not args.dry_run and not (api_key and app_key):
            raise _usage("set DD_API_KEY and DD_APP_KEY (a Datadog API key and application key)")
        where = module.import_dashboard(
            board,
            api_key=api_key or "",
            app_key=app_key or "",
            site=_env("DD_SITE") or "datadoghq.com",
            api_url=args.api_url,
            dry_run=args.dry_run,
        )
    else:
        api_key = _env("HONEYCOMB_API_KEY")
        if not args.dry_run and not api_key:
            raise _usage("set HONEYCOMB_API_KEY (a configuration key that can create boards)")
        where = module.import_board(
            board,
            api_key=api_key or "",
            dataset=args.dataset or _env("HONEYCOMB_DATASET") or "__all__",
            api_url=args.api_url or _env("HONEYCOMB_API_ENDPOINT") or "https://api.honeycomb.io",
            dry_run=args.dry_run,
        )
    print(f"{args.vendor}: {'would import' if args.dry_run else 'imported'} {where}")
    return 0


def register(groups: Any) -> None:
    group = groups.add_parser("dashboards", help="validate, export or import the dashboards")
    commands = group.add_subparsers(dest="command", required=True, metavar="ACTION")

    check = commands.add_parser("validate", help="check the boards against the vendors' schemas")
    check.add_argument("--vendor", action="append", choices=VENDORS)
    check.set_defaults(run=validate)

    write = commands.add_parser("export", help="write the boards' JSON to a folder")
    write.add_argument("--vendor", action="append", choices=VENDORS)
    write.add_argument("--out", required=True, help="folder to write into")
    write.set_defaults(run=export)

    send = commands.add_parser(
        "import",
        help="create or update the board in your account (idempotent)",
        description="Keys come from DD_API_KEY / DD_APP_KEY / DD_SITE (Datadog) or "
        "HONEYCOMB_API_KEY (Honeycomb). Running it twice updates the same board.",
    )
    send.add_argument("--vendor", required=True, choices=VENDORS)
    send.add_argument("--dataset", help="Honeycomb dataset (default HONEYCOMB_DATASET, else all)")
    send.add_argument("--dry-run", action="store_true", help="show the requests, send nothing")
    send.add_argument("--api-url", help="the vendor API's base URL (default: the public one)")
    send.set_defaults(run=import_)
