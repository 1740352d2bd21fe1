"""A face worker: reads photo paths (JSON strings, one a line) on stdin, answers on stdout.

Started by pool.py. Exits when stdin closes, which is also what happens when its parent dies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qbtui.faces.analysis import analyse_photo
from qbtui.faces.model import FaceModel, FaceModelMissing, PhotoFaces


def main() -> int:
    try:
        model = FaceModel.load()
    except FaceModelMissing as error:
        model = None
        reason = error.message
    for line in sys.stdin.buffer:
        path = Path(json.loads(line))
        faces = analyse_photo(path, model) if model is not None else PhotoFaces((0, 0), (), reason)
        sys.stdout.write(json.dumps(faces.to_json(), separators=(",", ":")) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
