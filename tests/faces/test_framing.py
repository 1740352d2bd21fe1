"""The crop square: head and shoulders around the face, inside the photo, never under 512 when it can be."""

from __future__ import annotations

from hypothesis import given, strategies as st

from qbtui.faces.framing import TARGET, face_in_frame, face_square, letterbox_frame


def test_a_face_in_the_middle_of_a_big_photo_is_a_third_of_the_square() -> None:
    square = face_square((1800, 1000, 2200, 1400), (4032, 3024))
    side = square[2] - square[0]
    assert side == square[3] - square[1] == 1200
    assert square[0] < 1800 and square[2] > 2200 and square[1] < 1000 and square[3] > 1400


def test_a_small_face_widens_the_square_to_512_rather_than_upscaling() -> None:
    square = face_square((500, 300, 560, 360), (1600, 1200))
    assert square[2] - square[0] == TARGET


def test_a_photo_smaller_than_512_gives_its_short_side() -> None:
    square = face_square((100, 80, 200, 180), (400, 300))
    assert square == (0, 0, 300, 300)


def test_a_face_at_the_edge_keeps_the_square_inside_the_photo() -> None:
    assert face_square((0, 0, 300, 300), (3000, 2000)) == (0, 0, 900, 900)
    assert face_square((2700, 1700, 3000, 2000), (3000, 2000)) == (2100, 1100, 3000, 2000)


def test_the_face_is_larger_in_the_face_square_than_in_the_letterbox() -> None:
    face, size = (1000, 800, 1300, 1100), (3024, 4032)
    assert face_in_frame(face, face_square(face, size)) > 2 * face_in_frame(face, letterbox_frame(size))


@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    data=st.data(),
)
def test_the_square_is_always_square_inside_the_photo_and_holds_the_face_when_it_fits(width, height, data) -> None:
    left = data.draw(st.integers(0, width - 1))
    top = data.draw(st.integers(0, height - 1))
    right = data.draw(st.integers(left + 1, width))
    bottom = data.draw(st.integers(top + 1, height))
    square = face_square((left, top, right, bottom), (width, height))
    side = square[2] - square[0]
    assert side == square[3] - square[1] == min(width, height, max(TARGET, round(max(right - left, bottom - top) * 3)))
    assert square[0] >= 0 and square[2] <= width and square[1] >= 0 and square[3] <= height
    if side >= max(right - left, bottom - top) * 3:
        assert square[0] <= left and right <= square[2] and square[1] <= top and bottom <= square[3]
