"""Fusion and scoring functions: hand-computed expectations."""

import numpy as np
import pytest

from kb.retrieve import minmax, rrf, weighted_fusion


def test_rrf_sums_reciprocal_ranks():
    fused = rrf({"a": [3, 1], "b": [1, 7]}, k=60)
    assert fused[1] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[3] == pytest.approx(1 / 61)
    assert fused[7] == pytest.approx(1 / 62)
    assert max(fused, key=fused.get) == 1


def test_rrf_weights_and_missing_retriever_weight():
    fused = rrf({"a": [5], "b": [6]}, k=0, weights={"a": 2.0})
    assert fused == {5: 2.0, 6: 0.0}


def test_minmax_scales_and_flat_scores_add_nothing():
    np.testing.assert_allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(minmax(np.array([7.0, 7.0])), [0.0, 0.0])
    assert len(minmax(np.array([]))) == 0


def test_weighted_fusion_orders_by_weighted_normalised_scores():
    scores = {"dense": np.array([0.9, 0.5, 0.1]), "words": np.array([0.0, 10.0, 5.0])}
    fused = weighted_fusion(scores, {"dense": 0.3, "words": 0.7})
    np.testing.assert_allclose(fused, [0.3, 0.3 * 0.5 + 0.7, 0.7 * 0.5])
    assert list(np.argsort(-fused)) == [1, 2, 0]


def test_weighted_fusion_zero_weight_ignores_retriever():
    fused = weighted_fusion({"dense": np.array([1.0, 0.0]), "chars": np.array([0.0, 3.0])},
                            {"dense": 0.0, "chars": 1.0})
    np.testing.assert_allclose(fused, [0.0, 1.0])
