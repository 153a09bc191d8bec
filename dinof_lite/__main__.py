"""``python -m dinof_lite``: see :mod:`dinof_lite.cli`."""

import signal
import sys

from dinof_lite.cli import main


def _terminate(signum, frame) -> None:
    """SIGTERM (``kill``, a batch scheduler, torchrun stopping the other ranks) as Ctrl-C: the
    trainer saves its checkpoint and the workdir lock is released instead of left stale."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
