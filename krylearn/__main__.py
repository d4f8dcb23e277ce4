"""Command line: ``python -m krylearn demo`` and ``python -m krylearn train-dcdm ...``."""

from __future__ import annotations

import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "demo": "solve a 3D Poisson problem with several solvers; print a table; write a PNG",
        "train-dcdm": "train the DCDM network (see python -m krylearn train-dcdm --help)",
    }
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: python -m krylearn {demo,train-dcdm} [options]\n")
        for name, text in commands.items():
            print(f"  {name:<11} {text}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "demo":
        from .demo import main as demo_main

        return demo_main(rest)
    from .learned.train import main as train_main

    return train_main(rest)


if __name__ == "__main__":
    sys.exit(main())
