"""A friend's dataset as every view and command counts it: the scan with its face checks.

`check_friend` (a scan, then `with_face_checks`) is where a friend's problems are gathered:
`qbtui check` and `qbtui status` call it, the dashboard's model (qbtui/workspace) calls
`with_face_checks` on its cached scan. So `FriendStatus.problem_count` is one number
everywhere: errors and warnings, face warnings included. A photo whose face analysis is
still pending adds no face problem until it is analysed (pending is not "no face")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qbtui.dataset.face_checks import scan_faces
from qbtui.dataset.scan import FriendStatus, scan_friend

if TYPE_CHECKING:
    from qbtui.dataset.cache import ScanCache
    from qbtui.faces.analysis import FaceCache
    from qbtui.registry import Friend, Settings


def check_friend(
    settings: Settings,
    friend: Friend,
    *,
    scan_cache: ScanCache | None = None,
    face_caches: dict[Path, FaceCache] | None = None,
    compute_faces: bool = True,
) -> FriendStatus:
    """Scan a friend's folder and add its face checks (see `with_face_checks`)."""
    status = scan_friend(settings, friend, scan_cache)
    return with_face_checks(settings, status, face_caches=face_caches, compute=compute_faces)


def with_face_checks(
    settings: Settings, status: FriendStatus, *, face_caches: dict[Path, FaceCache] | None = None, compute: bool = True
) -> FriendStatus:
    """A scan with its face checks; `compute=False` uses only the analyses already cached
    (instant: what the dashboard shows before its background analysis). `face_caches` keeps
    each folder's face cache in memory between calls."""
    face_cache = None
    if face_caches is not None:
        from qbtui.faces.analysis import FaceCache, cache_file_for

        face_cache = face_caches.setdefault(status.folder, FaceCache(cache_file_for(status.folder)))
    return scan_faces(status, prep_mode=settings.prep_mode, cache=face_cache, compute=compute)
