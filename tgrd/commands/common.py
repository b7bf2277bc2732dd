"""Arguments shared by every subcommand: ``--config FILE`` and ``key.sub=value`` overrides."""

from __future__ import annotations

import argparse

from tgrd.config import Config, load_config


def add_config_arguments(
    parser: argparse.ArgumentParser, default_config: str | None = None
) -> None:
    parser.add_argument(
        "--config",
        default=default_config,
        help="YAML config (default: %(default)s; built-in defaults if unset)",
    )
    # Overrides (key.sub=value words anywhere on the line) are collected by tgrd/cli.py.
    parser.set_defaults(overrides=[])


def config_from_args(args: argparse.Namespace, extra_overrides: list[str] | None = None) -> Config:
    return load_config(args.config, list(extra_overrides or []) + list(args.overrides))
