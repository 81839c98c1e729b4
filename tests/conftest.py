"""Shared test fixtures: paths to the repository and to ../shared (real data, R references)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared_dir():
    """../shared beside the checkout; tests using it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (real data and R references live there)")
    return SHARED
