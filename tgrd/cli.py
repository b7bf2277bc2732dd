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
        return int(run_with_storage(args) or 0)
    except ConfigError as exc:
        print(f"tgrd {args.command}: config error:\n{exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"tgrd {args.command}: error: {exc}", file=sys.stderr)
        return 2


def run_with_storage(args: argparse.Namespace) -> int:
    """Run a command; with ``--out`` at a URI, in a local mirror of it (tgrd/storage.py).

    Input paths given as URIs (``--gated s3://...``) are copied into the mirrored run first.
    """
    from tgrd import storage

    out = getattr(args, "out", None)
    uri_args = {
        key: value
        for key, value in vars(args).items()
        if key not in ("out", "overrides", "command", "_run")
        and any(
            storage.is_uri(v)
            for v in (value if isinstance(value, list) else [value])
            if isinstance(v, str)
        )
    }
    if out is None or not storage.is_uri(out):
        if uri_args:
            key, value = next(iter(uri_args.items()))
            raise ValueError(
                f"argument {key} ({value}) is a URI: inputs may be URIs only when --out is one "
                "too (the run is then mirrored there and the inputs are copied into it)"
            )
        return args._run(args)
    with storage.run_location(out) as local:
        mirror = storage.active_mirror()
        assert mirror is not None

        def fetch(value: str) -> str:
            return str(storage.fetch_input(value, mirror)) if storage.is_uri(value) else value

        for key, value in uri_args.items():
            setattr(
                args, key, [fetch(v) for v in value] if isinstance(value, list) else fetch(value)
            )
        args.out = str(local)
        return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
