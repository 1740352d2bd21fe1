"""A face worker, `python -m qbtui.faces.worker PARENT_PID [boxes]`: photo paths in, faces out.

Reads photo paths (JSON strings, one a line; a [path, box-only analysis] pair is described
rather than analysed) on stdin and answers one JSON line each on
stdout (with `boxes`, a photo of one face comes without its descriptor). Started by pool.py; ends when stdin closes or its parent dies (as prep's workers).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qbtui.dataset.prep_worker import die_with_parent
from qbtui.faces.analysis import analyse_photo, describe_photo
from qbtui.faces.model import FaceModel, FaceModelMissing, PhotoFaces
from qbtui.faces.pool import BOXES_ONLY


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[1]))
    describe = BOXES_ONLY not in argv[2:]
    try:
        model = FaceModel.load()
    except FaceModelMissing as error:
        model = None
        reason = error.message
    for line in sys.stdin.buffer:
        faces = answer(json.loads(line), model, describe) if model is not None else PhotoFaces((0, 0), (), reason)
        sys.stdout.write(json.dumps(faces.to_json(), separators=(",", ":")) + "\n")
        sys.stdout.flush()
    return 0


def answer(request: str | list, model: FaceModel, describe: bool) -> PhotoFaces:
    """The analysis a request asks for: a path's, or a box-only analysis's descriptors."""
    if isinstance(request, list):
        return describe_photo(Path(request[0]), model, PhotoFaces.from_json(request[1]))
    return analyse_photo(Path(request), model, describe=describe)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
