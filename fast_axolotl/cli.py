"""``fast-axolotl`` / ``python -m fast_axolotl``: status, demo, fingerprint."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import warnings
from typing import Any

from fast_axolotl import registry


def _import_targets() -> list[str]:
    """Imports Axolotl's target modules, so that status shows what really happens."""
    problems = []
    for module in dict.fromkeys(e.module for e in registry.ENTRIES):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a module of another release is no problem: status says so
                problems.append(f"cannot import {module}: {exc!r}")
        except Exception as exc:  # Axolotl missing or broken: report, don't crash
            problems.append(f"cannot import {module}: {exc!r}")
    return problems


def _is_ours(caught: warnings.WarningMessage) -> bool:
    from fast_axolotl import config

    return issubclass(caught.category, config.ConfigWarning)


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), line.format(*("-" * w for w in widths))]
    out += [line.format(*r) for r in rows]
    return "\n".join(s.rstrip() for s in out)


def cmd_status(args: argparse.Namespace) -> int:
    from fast_axolotl import _status

    import_problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not args.no_import:
            import_problems = _import_targets()
        info: dict[str, Any] = _status.summary()
    info["import_problems"] = import_problems
    # Only fast-axolotl's own warnings (its configuration) are status; what Axolotl's
    # dependencies warn while being imported here (trl.experimental, ...) is not.
    info["warnings"] = [str(w.message) for w in caught if _is_ours(w)]
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(
        f"fast-axolotl   {info['fast_axolotl']} "
        f"(native module: {info['native'] or 'NOT AVAILABLE'})"
    )
    print(f"axolotl        {info['axolotl'] or 'not installed'}")
    if info["disabled_by_env"]:
        print("FAST_AXOLOTL_DISABLE is set: nothing is patched")
    print(f"import hook    {'active' if info['hook_active'] else 'inactive'}")
    print(f"config         {info['config_file'] or 'none (everything enabled)'}")
    if info["verify_mode"]:
        print("verify mode    on (both paths run, Axolotl's result is returned)")
    for p in import_problems + info["warnings"]:
        print(f"warning: {p}")
    print()
    rows = [
        [e["target"], e["group"], e["state"] + (f": {e['reason']}" if e["reason"] else "")]
        for e in info["entries"]
    ]
    print(_table(rows, ["target", "group", "state"]))
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Maintainers: the guard fingerprint of an installed Axolotl symbol."""
    from fast_axolotl import guards

    for target in args.targets:
        module_name, _, qualname = target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        print(f"{target}  {guards.fingerprint(getattr(obj, '__wrapped__', obj))}")
    return 0


def run_demo(argv: list[str]) -> int:
    from fast_axolotl import demo

    return int(demo.main(argv))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fast-axolotl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", help="what is patched, per registry entry")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--no-import", action="store_true", help="do not import Axolotl's target modules first"
    )
    p.set_defaults(func=cmd_status)
    # `demo` has its own argument parser (fast_axolotl.demo); listed here for --help.
    sub.add_parser("demo", help="axolotl preprocess with and without fast-axolotl", add_help=False)
    p = sub.add_parser("fingerprint", help="guard fingerprint of Axolotl symbols")
    p.add_argument("targets", nargs="+", metavar="module:qualname")
    p.set_defaults(func=cmd_fingerprint)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        return run_demo(argv[1:])
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
