"""The `intref` command line: help, exit codes, one-line errors, --json, and the vectors round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from intref.cli import main
from intref.graph import ModelBuilder
from intref.graph.container import parse, serialize
from intref.spec import Requant
from intref.vectors.synthetic import demo_input, demo_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model = demo_model()
    model.save(root / "demo.intref")
    np.save(root / "x.npy", demo_input())
    return root


def test_help_explains_each_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "inspect" in out and "vectors" in out
    for argv in (
        ["inspect", "--help"],
        ["vectors", "--help"],
        ["vectors", "export", "--help"],
        ["vectors", "verify", "--help"],
        ["vectors", "check", "--help"],
    ):
        assert main(argv) == 0
        assert "usage: intref" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["vectors", "export"]) == 2
    assert main(["vectors"]) == 2
    capsys.readouterr()


def test_inspect_table_and_json(files, capsys):
    assert main(["inspect", str(files / "demo.intref")]) == 0
    out = capsys.readouterr().out
    assert "stem" in out and "conv1d" in out and "tflite_double/ch" in out and "4n" in out
    assert "x smaller" in out and "parameters" in out
    assert main(["inspect", str(files / "demo.intref"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["nodes"] == 13 and data["total"]["params"] > 0
    assert data["total"]["compression"] == pytest.approx(4 * data["total"]["params"] / data["total"]["bytes"])
    dw = next(n for n in data["nodes"] if n["name"] == "dw")
    assert dw["weight_bits"] == 4 and dw["scheme"] == "single" and dw["params"] == 80


def test_errors_are_one_line_without_traceback(files, tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.intref")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("intref: error:") and "Traceback" not in err
    c = parse((files / "demo.intref").read_bytes())
    doc = json.loads(c.metadata["intref"])
    doc["nodes"][3]["op"] = "nope"
    bad = tmp_path / "bad.intref"
    bad.write_bytes(serialize({"intref": json.dumps(doc)}, c.arrays))
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "node 'relu': unknown op 'nope'" in err and err.count("\n") == 1
    assert main(["--debug", "inspect", str(bad)]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert main(["inspect", str(bad), "--debug"]) == 2  # also after the command
    assert "Traceback" in capsys.readouterr().err


def test_export_verify_check_round_trip(files, tmp_path, capsys):
    out = tmp_path / "golden"
    argv = [
        "vectors",
        "export",
        str(files / "demo.intref"),
        str(files / "x.npy"),
        "--out",
        str(out),
        "--formats",
        "npy,memh,c",
    ]
    assert main(argv) == 0
    assert "13 nodes" in capsys.readouterr().out
    assert (out / "nodes/000_stem/node.h").exists() and (out / "nodes/000_stem/y.memh").exists()
    assert main(argv) == 2  # not empty
    assert "--force" in capsys.readouterr().err
    assert main([*argv, "--force", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["nodes"] == 13 and summary["backend"] == "numpy"
    assert main(["vectors", "verify", str(out), "--dump", str(out)]) == 0
    assert "MATCH" in capsys.readouterr().out
    assert main(["vectors", "check", str(out), "--backend", "numpy"]) == 0
    assert "all passed" in capsys.readouterr().out
    assert main(["vectors", "check", str(out), "--backend", "numpy", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["cases"] == 1
    y = out / "nodes/004_pw/y.npy"
    arr = np.load(y)
    arr[1, 1] += 1
    np.save(y, arr)
    assert main(["vectors", "check", str(out), "--backend", "numpy"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_export_with_named_inputs(tmp_path, capsys):
    b = ModelBuilder("two")
    x = b.input("x", "int8", ("T", 2))
    r = b.input("r", "int8", ("T", 2))
    b.output(b.node("mul", "m", [x, r], "y", requant=Requant.from_scale(0.01, "single")))
    b.build().save(tmp_path / "two.intref")
    np.save(tmp_path / "x.npy", np.ones((3, 2), dtype=np.int8))
    np.save(tmp_path / "r.npy", np.full((3, 2), 5, dtype=np.int8))
    base = ["vectors", "export", str(tmp_path / "two.intref")]
    assert main([*base, f"x={tmp_path / 'x.npy'}", f"r={tmp_path / 'r.npy'}", "--out", str(tmp_path / "v")]) == 0
    assert (tmp_path / "v/inputs/r.npy").exists()
    capsys.readouterr()
    assert main([*base, str(tmp_path / "x.npy"), "--out", str(tmp_path / "w")]) == 2
    assert "takes 2 inputs" in capsys.readouterr().err
    assert main([*base, "x=", "--out", str(tmp_path / "w")]) == 2
    np.save(tmp_path / "bad.npy", np.ones((3, 2), dtype=np.float32))
    assert main([*base, f"x={tmp_path / 'bad.npy'}", f"r={tmp_path / 'r.npy'}", "--out", str(tmp_path / "w")]) == 2
    assert "dtype float32" in capsys.readouterr().err
    assert (
        main(
            [
                *base,
                f"x={tmp_path / 'x.npy'}",
                f"r={tmp_path / 'r.npy'}",
                "--out",
                str(tmp_path / "u"),
                "--formats",
                "npy,vhdl",
            ]
        )
        == 2
    )
    assert "unknown formats" in capsys.readouterr().err


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "intref", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("intref ")
