import numpy as np
import pytest

from rankreward import diagnostics


def test_profiles_are_worst_to_best_per_group():
    rewards = [
        np.array([0.9, 0.5, 0.1]),
        np.array([1.0, 0.6, 0.0]),
        np.array([0.8, 0.8, 0.2]),
    ]
    profiles = diagnostics.group_profiles(rewards, ["a", "a", "b"])
    np.testing.assert_allclose(profiles["a"].mean, [0.05, 0.55, 0.95])
    np.testing.assert_allclose(profiles["b"].rewards, [[0.2, 0.8, 0.8]])


def test_between_group_w1_by_hand():
    # Group a pools {0, 1}, group b pools {0.5, 0.5}: every unit of mass moves
    # 0.5, so W1 = 0.5.
    profiles = diagnostics.group_profiles(
        [np.array([1.0, 0.0]), np.array([0.5, 0.5])], ["a", "b"]
    )
    assert diagnostics.between_group_w1(profiles, "a", "b") == pytest.approx(0.5)
    assert diagnostics.between_group_w1(profiles, "a", "a") == 0.0


def test_pairwise_accuracy_counts_ties_as_wrong():
    rewards = [np.array([1.0, 1.0, 0.0]), np.array([0.2, 0.8])]
    edges = [[[0, 1], [0, 2], [1, 2]], [[0, 1]]]
    # Correct: (0, 2) and (1, 2) of the first prompt; the tie and the reversal fail.
    assert diagnostics.pairwise_accuracy(rewards, edges) == pytest.approx(2 / 4)


def test_kendall_tau():
    assert diagnostics.mean_kendall_tau([np.array([3.0, 2.0, 1.0])]) == pytest.approx(
        1.0
    )
    assert diagnostics.mean_kendall_tau([np.array([1.0, 2.0, 3.0])]) == pytest.approx(
        -1.0
    )
    assert diagnostics.mean_kendall_tau([np.array([0.5, 0.5, 0.5])]) == 0.0


def test_prediction_mae():
    assert diagnostics.prediction_mae(
        [0.0, 0.5, 1.0], [0.1, 0.5, 0.7]
    ) == pytest.approx(0.4 / 3)


def test_mixed_sizes_in_group_rejected():
    with pytest.raises(ValueError, match="mixes prompts with \\[2, 3\\] responses"):
        diagnostics.group_profiles([np.zeros(2), np.zeros(3)], ["a", "a"])
