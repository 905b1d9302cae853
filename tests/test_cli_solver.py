import json

import numpy as np
import pytest

from rankreward.cli import main
from rankreward.solver import solve_graph, solve_ranking


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_solve_full_ranking_json(capsys):
    code, out, _ = run(["solve", "--utility", "log", "--n", "8", "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert data["utility"] == "log"
    assert data["converged"] is True
    assert data["residual"] <= 1e-10
    np.testing.assert_allclose(data["rewards"], solve_ranking("log", 8).rewards)


def test_solve_text_lists_rewards_best_first(capsys):
    code, out, _ = run(["solve", "--utility", "linear", "--n", "4"], capsys)
    assert code == 0
    assert "rewards (best first):" in out
    assert out.strip().splitlines()[-1] == "1.000000 1.000000 0.000000 0.000000"


def test_solve_edge_graph_file(tmp_path, capsys):
    # A chain 0 > 1 > 2 and an edge 0 > 2 repeated twice.
    path = tmp_path / "graph.json"
    path.write_text(
        json.dumps({"n": 3, "edges": [[0, 1], [1, 2], [0, 2]], "weights": [1, 1, 2]})
    )
    code, out, _ = run(
        ["solve", "--utility", "inverse", "--graph", str(path), "--json"], capsys
    )
    expected = solve_graph("inverse", 3, [(0, 1), (1, 2), (0, 2)], [1, 1, 2]).rewards
    assert code == 0
    np.testing.assert_allclose(json.loads(out)["rewards"], expected)


def test_solve_scores_record_with_ties(tmp_path, capsys):
    # Scores 3, 1, 3: responses 0 and 2 tie (no edge) and both beat response 1.
    path = tmp_path / "record.jsonl"
    path.write_text(
        json.dumps({"prompt": "p", "responses": ["a", "b", "c"], "scores": [3, 1, 3]})
        + "\n"
    )
    code, out, _ = run(
        ["solve", "--utility", "log", "--graph", str(path), "--json"], capsys
    )
    rewards = json.loads(out)["rewards"]
    assert code == 0
    assert rewards == pytest.approx([1.0, 0.0, 1.0])


def test_solve_ranks_record(tmp_path, capsys):
    path = tmp_path / "record.json"
    path.write_text(
        json.dumps({"prompt": "p", "responses": ["a", "b", "c"], "ranks": [3, 1, 2]})
    )
    code, out, _ = run(
        ["solve", "--utility", "log", "--graph", str(path), "--json"], capsys
    )
    assert code == 0
    assert json.loads(out)["rewards"] == pytest.approx([0.0, 1.0, 0.5])


def test_limit_json(capsys):
    code, out, _ = run(["limit", "--utility", "log", "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert data["family"] == "beta"
    assert data["parameters"] == {"a": 0.5, "b": 0.5}
    assert data["variance"] == pytest.approx(0.125)
    # The arcsine law's quantile is sin^2(pi q / 2).
    assert data["quantiles"]["0.1"] == pytest.approx(np.sin(np.pi * 0.05) ** 2)


def test_plots_are_written(tmp_path, capsys):
    for argv in (
        ["solve", "--utility", "log", "--n", "50"],
        ["limit", "--utility", "linear"],
        ["limit", "--utility", "inverse"],
    ):
        path = tmp_path / f"{argv[0]}-{argv[2]}.png"
        code, _, _ = run([*argv, "--plot", str(path)], capsys)
        assert code == 0
        assert path.stat().st_size > 10_000


def write(tmp_path, text, name="g.json"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_GRAPHS = [
    (
        '{"n": 3, "edges": [[0, 3]]}',
        r"edges\[0\] = \[0, 3\] names response 3, but "
        r"indices are 0-based and n=3; use 0..2",
    ),
    ('{"n": 3, "edges": [[1, 1]]}', r"edges\[0\] = \[1, 1\] is a self loop"),
    ('{"n": 1, "edges": []}', r"field 'n' must be an integer of at least 2, got 1"),
    ('{"edges": [[0, 1]]}', r"field 'n' is missing"),
    ('{"n": 3, "edges": [[0, 1.5]]}', r"edges\[0\] must hold two integer indices"),
    ('{"n": 3, "edges": [[0]]}', r"edges\[0\] must be a \[better, worse\] pair"),
    ('{"n": 3, "edges": [[0, 1]], "weights": [-1]}', r"weights\[0\] must be a finite"),
    ('{"n": 3, "edges": [[0, 1]', r"line 1, column \d+: invalid JSON"),
    ("", r"the file is empty"),
    ("[1, 2]", r"expected a JSON object, found list"),
    ('{"prompt": "p"}', r"expected an object with 'n' and 'edges'"),
    ('{"responses": ["a"]}', r"must list at least 2 responses"),
    ('{"responses": ["a", "b"], "scores": [1, NaN]}', r"scores\[1\] must be a finite"),
    ('{"responses": ["a", "b"], "ranks": [1, 1.5]}', r"ranks\[1\] must be an integer"),
    ('{"responses": ["a", "b"], "ranks": [1]}', r"must list one value per response"),
    ('{"responses": ["a", "b"]}\n{"responses": ["c", "d"]}', r"found 2 lines"),
    (
        '{"responses": ["a", "b", "c"], "rank": [3, 2, 1]}',
        r"field 'rank' is not a known field; did you mean 'ranks'\?",
    ),
    ('{"responses": ["a", "b"], "score": [1, 2]}', r"did you mean 'scores'\?"),
    ('{"n": 2, "edges": [[0, 1]], "weight": [5]}', r"did you mean 'weights'\?"),
    ('{"responses": ["a", "a", "c"]}', r"responses\[1\] repeats responses\[0\]"),
]


@pytest.mark.parametrize("text, message", BAD_GRAPHS)
def test_bad_graph_files_exit_2_with_one_line(text, message, tmp_path, capsys):
    import re

    path = write(tmp_path, text)
    code, out, err = run(["solve", "--utility", "log", "--graph", path], capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"rankreward solve: error: {path}")
    assert re.search(message, err)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["solve", "--utility", "cubic", "--n", "5"], "unknown utility 'cubic'"),
        (
            ["solve", "--utility", "power:2", "--n", "5"],
            "must satisfy 0 < G < 1, got 2",
        ),
        (["solve", "--utility", "log", "--n", "1"], "--n must be between 2 and 20000"),
        (["solve", "--utility", "log", "--n", "100000"], "got 100000"),
        (["limit", "--utility", "inverse-power:0"], "must satisfy 0 < G <= 100"),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_graph_file_exit_2(tmp_path, capsys):
    path = str(tmp_path / "nothing.json")
    code, _, err = run(["solve", "--utility", "log", "--graph", path], capsys)
    assert code == 2
    assert f"{path}: cannot read the file" in err


def test_undecodable_and_deeply_nested_graph_files_exit_2(tmp_path, capsys):
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'\xff\xfe{"n": 2}')
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for path, message in ((binary, "byte 0 is not UTF-8"), (deep, "nested too deeply")):
        code, out, err = run(
            ["solve", "--utility", "log", "--graph", str(path)], capsys
        )
        assert code == 2
        assert out == ""
        assert len(err.strip().splitlines()) == 1
        assert message in err


def test_huge_weights_keep_the_json_valid(tmp_path, capsys):
    # The optimum ignores a common factor of the weights, and an objective
    # that overflows prints as null, never as a bare Infinity. Linear on
    # 0 > 1 > 2 and 0 > 2: r = (1, 1/2, 0) and f = 2e308, above float range.
    text = (
        '{"n": 3, "edges": [[0, 1], [1, 2], [0, 2]], "weights": [1e308, 1e308, 1e308]}'
    )
    path = write(tmp_path, text)
    # Under log, f = 1e308 (2 log 1/2 + log 1), which fits.
    for spec, objective in (("log", 1e308 * (2 * np.log(0.5))), ("linear", None)):
        code, out, _ = run(
            ["solve", "--utility", spec, "--graph", path, "--json"], capsys
        )
        data = json.loads(out)
        assert code == 0
        assert "Infinity" not in out
        assert "NaN" not in out
        assert data["rewards"] == pytest.approx([1.0, 0.5, 0.0])
        if objective is None:
            assert data["objective"] is None
        else:
            assert data["objective"] == pytest.approx(objective)


@pytest.mark.parametrize(
    "target, message",
    [
        ("missing/a.png", "the folder {tmp}/missing does not exist"),
        ("", "is a folder"),
        ("a.pdf", "the plot is a PNG file"),
    ],
)
def test_bad_plot_paths_exit_2_before_solving(target, message, tmp_path, capsys):
    plot = str(tmp_path / target) if target else str(tmp_path)
    for argv in (
        ["solve", "--utility", "log", "--n", "5"],
        ["limit", "--utility", "log"],
    ):
        code, out, err = run([*argv, "--plot", plot], capsys)
        assert code == 2
        assert out == ""
        assert message.format(tmp=tmp_path) in err


def test_nonconvergence_exits_1_with_a_note(capsys, monkeypatch):
    from rankreward import solver

    real = solver._maximize
    monkeypatch.setattr(
        solver, "_maximize", lambda problem, x, **kw: real(problem, x, max_iterations=1)
    )
    code, out, err = run(
        ["solve", "--utility", "inverse", "--n", "40", "--json"], capsys
    )
    assert code == 1
    assert json.loads(out)["converged"] is False
    assert "the solver stopped after 1 iterations" in err


def test_tangent_line_notes(capsys):
    code, out, _ = run(["solve", "--utility", "inverse-power:10", "--n", "30"], capsys)
    assert code == 0
    assert "pairs end less than 0.1 apart" in out
    code, out, _ = run(["solve", "--utility", "log", "--n", "30", "--json"], capsys)
    assert json.loads(out)["tangent_pairs"] == 0
    code, out, _ = run(["limit", "--utility", "inverse-power:10"], capsys)
    assert "continues as its tangent line below 0.1" in out
    code, out, _ = run(["limit", "--utility", "log"], capsys)
    assert "tangent" not in out


def test_bom_and_integral_float_ranks_are_read(tmp_path, capsys):
    path = tmp_path / "ranks.json"
    text = '{"responses": ["a", "b", "c"], "ranks": [3.0, 2.0, 1.0], "id": 7}'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    code, out, _ = run(
        ["solve", "--utility", "log", "--graph", str(path), "--json"], capsys
    )
    assert code == 0
    assert json.loads(out)["rewards"] == pytest.approx([0.0, 0.5, 1.0])


def test_empty_plot_name_exits_2(capsys):
    code, out, err = run(
        ["solve", "--utility", "log", "--n", "4", "--plot", ""], capsys
    )
    assert code == 2
    assert out == ""
    assert "--plot needs a file name" in err
