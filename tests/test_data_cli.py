"""`iql-data`: inspecting datasets and rebuilding the shipped one."""
from __future__ import annotations

import numpy as np

from iql_lib.cli import data_main
from iql_lib.envs import env_spec

SHIPPED = env_spec("PointmassMedium-v0").default_dataset


def test_info_prints_statistics_and_draws_the_data(tmp_path, capsys):
    plot = tmp_path / "data.png"
    assert data_main(["info", SHIPPED, "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "20509 transitions, 200 episodes" in out
    assert "best -43.0, mean -101.8" in out
    assert plot.stat().st_size > 10_000


def test_make_stitching_rebuilds_the_shipped_file(tmp_path):
    out = tmp_path / "rebuilt.npz"
    assert data_main(["make-stitching", "--seed", "0", "--out", str(out)]) == 0
    with np.load(out) as rebuilt, np.load(SHIPPED) as shipped:
        assert rebuilt.files == shipped.files
        for key in shipped.files:
            assert np.array_equal(rebuilt[key], shipped[key]), key


def test_info_on_a_bad_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"\x00" * 64)
    assert data_main(["info", str(bad)]) == 2
    assert "not a readable npz file" in capsys.readouterr().err


def test_train_reports_a_single_array_file_clearly(tmp_path, capsys):
    from iql_lib.cli import train_main

    bad = tmp_path / "single.npz"
    with open(bad, "wb") as fh:
        np.save(fh, np.zeros(3))
    assert train_main(["--offline-dataset", str(bad), "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "holds a single array" in err and "Traceback" not in err
