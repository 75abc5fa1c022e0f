"""The array backend's process settings: FFT threads and glibc's reuse of freed memory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "import numpy as np; from csmri.backend import get_backend, retain_freed_memory; "
    "b = get_backend(); "
    "print(b.workers_for(np.zeros((1, 4, 4))), retain_freed_memory(), "
    "b.workers_for(np.zeros((4, 4, 4))))"
)


def probe(**env: str) -> list[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_", "CSMRI_"))
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc settings are Linux-only")
def test_freed_memory_is_retained_unless_the_user_set_malloc_variables() -> None:
    assert probe()[:2] == ["1", "True"]
    assert probe(MALLOC_TRIM_THRESHOLD_="131072")[:2] == ["1", "False"]
    assert probe(GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")[:2] == ["1", "False"]


def test_fft_threads_one_per_image_up_to_two_unless_the_environment_says() -> None:
    single, _, batch = probe()
    assert single == "1" and batch == str(min(2, os.cpu_count() or 1))
    assert probe(CSMRI_FFT_WORKERS="3")[0] == "3" and probe(CSMRI_FFT_WORKERS="3")[2] == "3"
