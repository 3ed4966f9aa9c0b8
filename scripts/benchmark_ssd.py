#!/usr/bin/env python
"""``ssd-zoo benchmark`` as a file: the same flags (``--help`` lists them); the code is
:mod:`ssd_zoo.cli.commands.benchmark`."""
import sys

from ssd_zoo.cli.commands.benchmark import main

if __name__ == '__main__':
    sys.exit(main())
