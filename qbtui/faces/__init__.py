"""Face engine: detect faces, measure them, compare them, frame a crop around them.

Domain layer: no Textual, no torch. dlib and numpy load only when a model is loaded,
so `import qbtui.faces` stays cheap and works where dlib is not installed.
"""

from __future__ import annotations

from qbtui.lazy import lazy_exports

_EXPORTS = {
    "Face": "model",
    "FaceModel": "model",
    "FaceModelMissing": "model",
    "INSTALL_COMMAND": "model",
    "SAME_PERSON_DISTANCE": "model",
    "face_distance": "model",
    "load_photo": "photo",
    "PhotoFaces": "analysis",
    "FaceCache": "analysis",
    "analyse_photo": "analysis",
    "analyse_folder": "analysis",
    "face_model_available": "model",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
