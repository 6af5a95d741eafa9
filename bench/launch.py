"""`python -m bench.launch <manage.py command> [args]`: a manage.py command with the
fixed-latency engine swapped in when BENCH_ENGINE_LATENCY is set."""

import sys

from .common import setup_django


def main() -> None:
    setup_django()
    from django.core.management import execute_from_command_line

    from .engine import install_from_environment

    install_from_environment()
    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
