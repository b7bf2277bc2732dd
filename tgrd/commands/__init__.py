"""Subcommands of the ``tgrd`` CLI; see tgrd/cli.py for the contract each module follows."""
