import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda_api"))

from kw_server import lam, server, side_dir, start_server  # noqa: F401
