"""The synthetic scene-caption data set (tinygrad_cv.data.ShapesCaptions)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_cv.data import ShapesCaptions
from tinygrad_cv.data.shapes_captions import COLOURS, SHAPES, SIZES, Vocabulary


@pytest.fixture(scope="module")
def data():
    return ShapesCaptions(60, image_size=32, seed=3)


def test_shapes_types_and_determinism(data):
    assert data.images.shape == (60, 3, 32, 32) and data.images.dtype == np.float32
    assert 0.0 <= data.images.array.min() and data.images.array.max() <= 1.0
    assert data.captions.shape == (60, 3, data.max_tokens)
    assert data.attributes.shape == (60, 3)
    again = ShapesCaptions(60, image_size=32, seed=3)
    np.testing.assert_array_equal(again.images.array, data.images.array)
    assert again.references == data.references
    other = ShapesCaptions(60, image_size=32, seed=4)
    assert not np.array_equal(other.images.array, data.images.array)


def test_vocabulary_specials_and_round_trip(data):
    vocab = data.vocab
    assert vocab.idx_to_word[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    for i in range(len(data)):
        for r in range(3):
            ids = data.captions.array[i, r]
            assert ids[0] == vocab.start and vocab.end in ids
            end = list(ids).index(vocab.end)
            assert (ids[end + 1:] == vocab.null).all()
            assert vocab.decode(ids) == data.references[i][r]
    assert vocab.encode("a purple circle")[2] == vocab.unk
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([1, 999])
    with pytest.raises(ValueError, match="more than length 3"):
        vocab.encode("a small red circle", length=3)


def test_captions_describe_the_scene_left_to_right(data):
    for objects, refs, attrs in zip(data.objects, data.references, data.attributes.array):
        assert 1 <= len(objects) <= 3 and len(refs) == 3
        phrases = [f"{size} {colour} {shape}" for shape, colour, size in objects]
        assert refs[0] == "a " + " left of a ".join(phrases)     # named left to right
        assert (attrs > 0).sum() == len(objects)
        codes = attrs[attrs > 0]                         # thirds, left to right
        for (shape, colour, size), code in zip(objects, codes):
            expected = 1 + (SHAPES.index(shape) * len(COLOURS) + list(COLOURS).index(colour)) \
                * len(SIZES) + SIZES.index(size)
            assert code == expected


def test_objects_are_drawn_in_their_colour(data):
    """The pixels of each object's third that are close to its colour exist."""
    img = data.images.array
    for i, (objects, attrs) in enumerate(zip(data.objects, data.attributes.array)):
        thirds = np.flatnonzero(attrs)
        for (shape, colour, size), third in zip(objects, thirds):
            lo, hi = int(third * 32 / 3), int((third + 1) * 32 / 3)
            patch = img[i, :, :, lo:hi]
            dist = np.abs(patch - np.asarray(COLOURS[colour])[:, None, None]).max(axis=0)
            assert (dist < 0.25).sum() >= 6


def test_splits_are_fixed_and_disjoint():
    data = ShapesCaptions(50, 32, 0)
    parts = [data.split(s) for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [40, 5, 5]
    joined = np.concatenate([p.images.array for p in parts])
    np.testing.assert_array_equal(joined, data.images.array)
    assert sum((p.references for p in parts), []) == data.references
    image, captions = parts[2][0]
    assert image.shape == (3, 32, 32) and captions.shape == (3, data.max_tokens)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        data.split("dev")


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 6), size=st.integers(12, 40), seed=st.integers(0, 2 ** 31))
def test_any_size_renders(n, size, seed):
    data = ShapesCaptions(n, size, seed)
    assert data.images.shape == (n, 3, size, size)
    assert np.isfinite(data.images.array).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be a positive integer"),
    ({"n": 2.5}, "n must be a positive integer"),
    ({"n": 4, "image_size": 8}, "image_size must be an integer >= 12"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShapesCaptions(**kwargs)


def test_vocabulary_from_words():
    vocab = Vocabulary(["x", "y"])
    assert len(vocab) == 6 and vocab.encode("x y", 5) == [1, 4, 5, 2, 0]
