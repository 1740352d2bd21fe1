"""dlib's face detector, 5-point landmarks and ResNet descriptors, behind one small API.

The model files come from the `face_recognition_models` package (found on disk, never
imported: its `__init__` needs setuptools). dlib and numpy are imported by `load()` only.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from qbtui.errors import QbtuiError
from qbtui.faces.measure import brightness_of, pose_of, sharpness_of

# The error a photo gets when its face worker stopped before answering (never cached).
STOPPED = "the face worker stopped"
INSTALL_COMMAND = "pip install 'dlib-bin>=19.24' 'face_recognition_models>=0.3.0'"
PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SAME_PERSON_DISTANCE = 0.6
DETECT_LONG_SIDE = 800
UPSAMPLE = 1
# dlib scores real faces about 0.7-2.0 and spurious ones (a pattern, an ear) under 0.2
MIN_FACE_SCORE = 0.3


class FaceModelMissing(QbtuiError):
    """dlib or the face model files are not installed."""

    def __init__(self, what: str) -> None:
        super().__init__(f"face checks need {what}", fix=INSTALL_COMMAND)


@dataclass(frozen=True)
class Face:
    """One detected face, in the pixels of the image it was found in.

    `box` is (left, top, right, bottom), clipped to the image; `landmarks` are dlib's
    5 points (two corners of each eye, the base of the nose); `pose` is "front",
    "three-quarter" or "profile"; `sharpness` is the variance of the Laplacian of the
    face region at a fixed size; `brightness` its mean luminance (0-255).
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: tuple[tuple[float, float], ...]
    descriptor: tuple[float, ...]
    pose: str
    sharpness: float
    brightness: float

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    @property
    def described(self) -> bool:
        """False for a face analysed for its box only (no descriptor to compare it by)."""
        return bool(self.descriptor)

    def scaled(self, factor: float, size: tuple[int, int]) -> Face:
        """The same face in an image `factor` times larger, clipped to `size`."""
        left, top, right, bottom = (round(value * factor) for value in self.box)
        box = (max(0, left), max(0, top), min(size[0], right), min(size[1], bottom))
        points = tuple((x * factor, y * factor) for x, y in self.landmarks)
        return Face(box, self.score, points, self.descriptor, self.pose, self.sharpness, self.brightness)


def face_distance(a: Face | tuple[float, ...], b: Face | tuple[float, ...]) -> float:
    """Euclidean distance of two descriptors; under SAME_PERSON_DISTANCE: the same person."""
    first = a.descriptor if isinstance(a, Face) else a
    second = b.descriptor if isinstance(b, Face) else b
    return math.dist(first, second)


def model_files() -> dict[str, Path] | None:
    """The two model files of face_recognition_models, or None when it is not installed."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return {"predictor": folder / PREDICTOR_FILE, "encoder": folder / ENCODER_FILE}


def face_model_available() -> bool:
    """True when dlib and the model files are installed (nothing is imported)."""
    files = model_files()
    return importlib.util.find_spec("dlib") is not None and files is not None and all(path.is_file() for path in files.values())


class FaceModel:
    """The loaded dlib models; `detect` finds, measures and describes the faces of an image.

    The descriptor network loads on the first face described, so a model that only finds
    boxes never pays for it.
    """

    def __init__(self, detector: Any, predictor: Any, encoder_file: Path) -> None:
        self._detector = detector
        self._predictor = predictor
        self._encoder_file = encoder_file
        self._encoder: Any = None

    @classmethod
    def load(cls) -> FaceModel:
        """Load dlib's models (about 0.4 s); FaceModelMissing names the install command."""
        if importlib.util.find_spec("dlib") is None:
            raise FaceModelMissing("dlib (the dlib-bin package)")
        files = model_files()
        if files is None:
            raise FaceModelMissing("the face_recognition_models package")
        for path in files.values():
            if not path.is_file():
                raise FaceModelMissing(f"the model file {path}")
        import dlib

        return cls(dlib.get_frontal_face_detector(), dlib.shape_predictor(str(files["predictor"])), files["encoder"])

    def describe(self, image: Image.Image, faces: list[Face]) -> list[Face]:
        """`faces`, found in `image` by `detect(image, describe=False)`, with their descriptors:
        the same as `detect(image)` gives, without detecting again (dlib's shape is rebuilt
        from the landmarks)."""
        import dlib

        pixels, scale = self._detection_pixels(image)
        described = []
        for face in faces:
            points = [dlib.point(round(x * scale - 0.5), round(y * scale - 0.5)) for x, y in face.landmarks]
            rect = dlib.rectangle(*(round(value * scale) for value in face.box))
            described.append(replace(face, descriptor=self.descriptor(pixels, dlib.full_object_detection(rect, points))))
        return described

    @staticmethod
    def _detection_pixels(image: Image.Image) -> tuple[Any, float]:
        """The RGB pixels detection runs on (long side at most DETECT_LONG_SIDE) and their scale."""
        import numpy

        rgb = image if image.mode == "RGB" else image.convert("RGB")
        scale = min(1.0, DETECT_LONG_SIDE / max(rgb.size))
        small = rgb if scale == 1.0 else rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))))
        return numpy.asarray(small), scale

    def descriptor(self, pixels: Any, shape: Any) -> tuple[float, ...]:
        """The 128-D descriptor of the face at `shape` (dlib's landmarks) in `pixels`."""
        if self._encoder is None:
            import dlib

            self._encoder = dlib.face_recognition_model_v1(str(self._encoder_file))
        return tuple(round(float(value), 6) for value in self._encoder.compute_face_descriptor(pixels, shape))

    def detect(self, image: Image.Image, *, describe: bool = True) -> list[Face]:
        """The faces of `image` (EXIF already applied), largest first, weak detections dropped.

        Detection runs on a copy whose long side is about DETECT_LONG_SIDE pixels; boxes
        and landmarks are mapped back to `image`'s pixels. With `describe=False` a photo of
        one face gets no descriptor (the slowest step; only the box is wanted); a photo of
        several faces is described anyway, as telling them apart needs it.
        """
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        pixels, scale = self._detection_pixels(rgb)
        rects, scores, _kinds = self._detector.run(pixels, UPSAMPLE, 0.0)
        grey = rgb.convert("L")
        found = [(rect, score) for rect, score in zip(rects, scores, strict=True) if score >= MIN_FACE_SCORE]
        describe = describe or len(found) > 1
        faces = []
        for rect, score in found:
            shape = self._predictor(pixels, rect)
            descriptor = self.descriptor(pixels, shape) if describe else ()
            points = tuple((shape.part(i).x + 0.5, shape.part(i).y + 0.5) for i in range(shape.num_parts))
            box = (
                max(0, math.floor(rect.left() / scale)),
                max(0, math.floor(rect.top() / scale)),
                min(rgb.width, math.ceil((rect.right() + 1) / scale)),
                min(rgb.height, math.ceil((rect.bottom() + 1) / scale)),
            )
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            landmarks = tuple((x / scale, y / scale) for x, y in points)
            region = grey.crop(box)
            faces.append(
                Face(
                    box=box,
                    score=round(float(score), 3),
                    landmarks=landmarks,
                    descriptor=descriptor,
                    pose=pose_of(landmarks),
                    sharpness=sharpness_of(region),
                    brightness=brightness_of(region),
                )
            )
        faces.sort(key=lambda face: face.width * face.height, reverse=True)
        return faces


@dataclass(frozen=True)
class PhotoFaces:
    """The faces found in one photo; `size` is the oriented full size the boxes refer to."""

    size: tuple[int, int]
    faces: tuple[Face, ...]
    error: str | None = None

    @property
    def described(self) -> bool:
        """True when every face has its descriptor (see FaceModel.detect's `describe`)."""
        return all(face.described for face in self.faces)

    @property
    def face(self) -> Face | None:
        """The largest face, the one prep frames; None when none was found."""
        return self.faces[0] if self.faces else None

    def to_json(self) -> dict:
        return {"size": list(self.size), "faces": [asdict(face) for face in self.faces], "error": self.error}

    @classmethod
    def from_json(cls, data: dict) -> PhotoFaces:
        faces = tuple(
            Face(
                box=tuple(face["box"]),
                score=face["score"],
                landmarks=tuple(tuple(point) for point in face["landmarks"]),
                descriptor=tuple(face["descriptor"]),
                pose=face["pose"],
                sharpness=face["sharpness"],
                brightness=face["brightness"],
            )
            for face in data["faces"]
        )
        return cls(tuple(data["size"]), faces, data.get("error"))
