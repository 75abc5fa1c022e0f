import numpy as np
import pytest
from skimage.metrics import structural_similarity

from csmri.metrics import center_crop, evaluate, nmse, psnr, ssim, ssim_per_slice


@pytest.fixture
def pair(rng):
    target = rng.uniform(0, 2, size=(3, 20, 24))
    recon = target + 0.1 * rng.standard_normal(target.shape)
    return target, recon


def test_nmse_and_psnr_match_hand_computation(pair):
    target, recon = pair
    mse = np.mean((target - recon) ** 2)
    assert nmse(target, recon) == pytest.approx(np.sum((target - recon) ** 2) / np.sum(target**2))
    assert psnr(target, recon) == pytest.approx(10 * np.log10(target.max() ** 2 / mse))


def test_ssim_is_slice_mean_with_volume_data_range(pair):
    target, recon = pair
    expected = np.mean(
        [structural_similarity(t, r, data_range=target.max()) for t, r in zip(target, recon)]
    )
    assert ssim(target, recon) == pytest.approx(expected)


def test_perfect_reconstruction_scores_perfectly(pair):
    target, _ = pair
    assert nmse(target, target) == 0
    assert ssim(target, target) == pytest.approx(1.0)


def test_evaluate_crops_reconstruction_to_target_and_scores_magnitude(pair):
    target, recon = pair
    padded = np.zeros((3, 24, 30), dtype=complex)
    padded[:, 2:22, 3:27] = recon * np.exp(1j * 0.7)
    result = evaluate(target, padded)
    assert result["psnr"] == pytest.approx(psnr(target, np.abs(recon)))
    assert len(result["per_slice"]["ssim"]) == 3


def test_center_crop_follows_fastmri_offsets():
    image = np.arange(7 * 6).reshape(7, 6)
    np.testing.assert_array_equal(center_crop(image, (3, 2)), image[2:5, 2:4])
    with pytest.raises(ValueError):
        center_crop(image, (8, 2))


def test_psnr_equals_scikit_image_which_fastmri_calls(pair):
    from skimage.metrics import peak_signal_noise_ratio

    target, recon = pair
    expected = peak_signal_noise_ratio(target, recon, data_range=target.max())
    assert psnr(target, recon) == pytest.approx(expected, rel=1e-12)
    assert psnr(target, target) == np.inf
    with pytest.raises(ValueError, match="shape"):
        psnr(target, recon[:, :-1])


@pytest.mark.parametrize("shape", [(2, 7, 7), (1, 31, 20), (2, 64, 57)])
def test_ssim_per_slice_equals_scikit_image_on_smooth_and_noisy_images(rng, shape):
    yy, xx = np.mgrid[: shape[1], : shape[2]]
    smooth = np.sin(yy / 5.0) * np.cos(xx / 7.0) + 1.5
    target = np.stack([smooth * (1 + s) for s in range(shape[0])]).astype(np.float32)
    recon = target + rng.standard_normal(shape).astype(np.float32) * 0.2
    recon[:, :3, :] = 0  # a border that scikit-image's filter sees but its mean leaves out
    expected = [structural_similarity(t, r, data_range=7.0) for t, r in
                zip(target.astype(np.float64), recon.astype(np.float64))]
    np.testing.assert_allclose(ssim_per_slice(target, recon, data_range=7.0), expected,
                               rtol=1e-10, atol=1e-12)


def test_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="7x7"):
        ssim(np.ones((6, 9)), np.ones((6, 9)))
