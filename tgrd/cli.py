"""The ``tgrd`` command line: one subcommand per workflow, each in ``tgrd/commands/<name>.py``.

    tgrd gate INPUT... --out DIR [key.sub=value ...]
    tgrd pipeline --config configs/demo.yaml

Each command module exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only to build the parser; heavy imports (Ray, torch) live inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tgrd.config import ConfigError

# Subcommand name → module. Order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "run": "tgrd.commands.pipeline",
    "pipeline": "tgrd.commands.pipeline",
    "gate": "tgrd.commands.gate",
    "rgsd": "tgrd.commands.rgsd",
    "evalcode": "tgrd.commands.evalcode",
    "synth": "tgrd.commands.synth",
    "adapt": "tgrd.commands.adapt",
    "label": "tgrd.commands.label",
    "teacher": "tgrd.commands.teacher",
    "distill": "tgrd.commands.distill",
    "score": "tgrd.commands.score",
    "groundtruth": "tgrd.commands.groundtruth",
    "calibrate": "tgrd.commands.calibrate",
    "report": "tgrd.commands.report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tgrd", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key.sub=value words may sit anywhere on the line (argparse cannot place them after a
    # variadic positional): everything unknown must be one, or it is an error.
    not_overrides = [a for a in extra if a.startswith("-") or "=" not in a]
    if not_overrides:
        parser.error(f"unrecognized arguments: {' '.join(not_overrides)}")
    args.overrides = list(getattr(args, "overrides", [])) + extra
    try:
        return int(args._run(args) or 0)
    except ConfigError as exc:
        print(f"tgrd {args.command}: config error:\n{exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"tgrd {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
