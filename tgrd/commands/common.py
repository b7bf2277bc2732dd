"""Arguments shared by every subcommand: ``--config FILE`` and trailing ``key.sub=value`` overrides."""

from __future__ import annotations

import argparse

from tgrd.config import Config, load_config


def add_config_arguments(parser: argparse.ArgumentParser, default_config: str | None = None) -> None:
    parser.add_argument(
        "--config", default=default_config, help="YAML config (default: %(default)s; built-in defaults if unset)"
    )
    parser.add_argument(
        "overrides", nargs="*", default=[], metavar="key.sub=value", help="config overrides, applied in order"
    )


def config_from_args(args: argparse.Namespace, extra_overrides: list[str] | None = None) -> Config:
    return load_config(args.config, list(extra_overrides or []) + list(args.overrides))
