"""Encoded vs recon matrix: header parsing, fastMRI's centre crop, the output-crop rule."""

import numpy as np
import pytest

from csmri.mri.matrix import center_crop, header_fov, header_matrix, output_crop

# the layout of a fastMRI knee file's ismrmrd_header (trimmed)
HEADER = b"""<?xml version="1.0"?><ismrmrdHeader><encoding>
<encodedSpace><matrixSize><x>640</x><y>368</y><z>1</z></matrixSize>
<fieldOfView_mm><x>280</x><y>161.0</y><z>4.5</z></fieldOfView_mm></encodedSpace>
<reconSpace><matrixSize><x> 320 </x><y>320</y><z>1</z></matrixSize>
<fieldOfView_mm><x>140</x><y>140</y><z>4.5e0</z></fieldOfView_mm></reconSpace>
</encoding></ismrmrdHeader>"""


def test_header_matrices_and_fields_of_view_are_parsed():
    assert header_matrix(HEADER, "encodedSpace") == (640, 368)
    assert header_matrix(HEADER.decode(), "reconSpace", "xyz") == (320, 320, 1)
    assert header_fov(HEADER) == (280.0, 161.0, 4.5)
    assert header_fov(HEADER, "reconSpace") == (140.0, 140.0, 4.5)
    assert header_matrix(b"<ismrmrdHeader/>", "reconSpace") is None
    assert header_matrix(HEADER.replace(b"<y>368</y>", b""), "encodedSpace") is None


def _fastmri_reference(shape, crop):
    """Start indices fastMRI computes: ``(shape - crop) // 2``, written out per axis."""
    return [(s - c) // 2 for s, c in zip(shape, crop)]


@pytest.mark.parametrize(
    ("shape", "crop"), [((8, 6), (4, 4)), ((9, 7), (4, 4)), ((9, 7), (5, 3)), ((8, 6), (3, 5))]
)
def test_center_crop_matches_fastmri_on_odd_and_even_sizes(shape, crop):
    data = np.arange(2 * shape[0] * shape[1]).reshape(2, *shape)
    top, left = _fastmri_reference(shape, crop)
    out = center_crop(data, crop)
    assert out.shape == (2, *crop)
    assert out[0, 0, 0] == data[0, top, left]
    np.testing.assert_array_equal(out, data[:, top : top + crop[0], left : left + crop[1]])
    # even sizes: the crop is symmetric; odd differences drop the extra line at the end
    assert (shape[0] - crop[0]) - 2 * top in (0, 1)


def test_center_crop_refuses_empty_or_larger_crops():
    with pytest.raises(ValueError, match="cannot crop 4x4 to 5x2"):
        center_crop(np.zeros((4, 4)), (5, 2))
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(np.zeros((4, 4)), (0, 2))


def test_output_crop_uses_the_recon_matrix_when_the_header_fits():
    assert output_crop((640, 368), (640, 368), (320, 320)) == (320, 320)
    assert output_crop((64, 48), None, None) == (64, 48)


def test_output_crop_trusts_the_data_and_warns_when_the_header_contradicts_it():
    with pytest.warns(UserWarning, match=r"scan.dat: header encoded matrix 64x64 differs from "
                      r"the data's 128x128; the data decide"):
        assert output_crop((128, 128), (64, 64), (64, 64), "scan.dat") == (64, 64)
    with pytest.warns(UserWarning, match=r"recon matrix 396x396 does not fit the 640x372 "
                      r"image; cropping to 396x372"):
        assert output_crop((640, 372), (640, 372), (396, 396)) == (396, 372)
