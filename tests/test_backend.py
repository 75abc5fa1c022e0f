"""The array backend's process settings: FFT threads and glibc's reuse of freed memory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "from csmri.backend import get_backend, retain_freed_memory; "
    "print(get_backend().workers, retain_freed_memory())"
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
    assert probe() == ["1", "True"]
    assert probe(MALLOC_TRIM_THRESHOLD_="131072") == ["1", "False"]
    assert probe(GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072") == ["1", "False"]


def test_fft_threads_follow_the_environment() -> None:
    assert probe(CSMRI_FFT_WORKERS="2")[0] == "2"
