#!/usr/bin/env python
"""``ssd-zoo eval`` as a file: the same flags (``--help`` lists them); the code is
:mod:`ssd_zoo.cli.commands.eval`."""
from ssd_zoo.cli.commands.eval import main
from ssd_zoo.cli.options import run

if __name__ == '__main__':
    run(main)
