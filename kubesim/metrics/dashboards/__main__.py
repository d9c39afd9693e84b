"""`python -m kubesim.metrics.dashboards [DIR]`: write the dashboards and the Prometheus
files into DIR (default: the repository's `dashboards/`)."""

from __future__ import annotations

import sys
from pathlib import Path

from kubesim.metrics.dashboards.files import generated_files

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "dashboards"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_DIR
    for relative, text in generated_files().items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
