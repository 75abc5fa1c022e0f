"""``csmri compare`` with its cases on a Dask cluster equals the serial run, timings aside."""

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.app.methods import CompressedSensing, ZeroFilled
from csmri.io.images import load_sample
from learned.comparison import cases_from_images, run_comparison

TIMING = {"seconds"}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare_inputs")
    sample = load_sample()
    paths = []
    for i, rows in enumerate((slice(40, 120), slice(60, 140))):
        path = folder / f"stack{i}.npy"
        np.save(path, sample[i::3, rows, 40:120])  # 4 slices of 80x80
        paths.append(str(path))
    return paths


def _compare(paths, *extra):
    args = ["compare", *paths, "--methods", "zero-filled,tv-admm", "--iters", "3",
            "--accel", "4,8", "--format", "json", *extra]
    result = CliRunner().invoke(csmri, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_cases_on_a_local_cluster_equal_the_serial_run(stacks):
    serial = _compare(stacks, "--lam", "auto")
    spread = _compare(stacks, "--lam", "auto", "--scheduler", "local", "--workers", "2")
    assert len(serial["rows"]) == 2 * 2 * 2 * 2  # inputs x accelerations x methods x scored
    assert _without_timing(spread["rows"]) == _without_timing(serial["rows"])
    assert spread["lambdas"] == serial["lambdas"]


def test_merged_case_results_equal_the_serial_loop_examples_included():
    images = load_sample()[::4, 40:120, 40:120]
    cases = [
        case
        for name, stack in (("a", images), ("b", images[::-1].copy()))
        for case in cases_from_images(name, stack, [4.0], [0.08], "random", 1, 0.0, 1)
    ]
    methods = [ZeroFilled(), CompressedSensing(reg="tv", lam=0.003, max_iter=3)]
    args = (cases, methods, True, lambda m, c: 0.003)
    serial = run_comparison(*args)
    with ThreadPoolExecutor(2) as executor:
        spread = run_comparison(*args, case_executor=executor)
    assert _without_timing(spread.rows) == _without_timing(serial.rows)
    assert spread.lambdas == serial.lambdas and spread.input_hashes == serial.input_hashes
    for name, image in serial.examples[4.0].items():
        np.testing.assert_array_equal(spread.examples[4.0][name], image)
    for key, trace in serial.convergence.items():
        assert spread.convergence[key]["objective"] == trace["objective"]
