"""`vectors verify`: a device dump against golden vectors, with injected faults."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from intref.cli import main
from intref.errors import VectorsError
from intref.vectors.export import export
from intref.vectors.formats import memh_text
from intref.vectors.synthetic import demo_input, demo_model
from intref.vectors.verify import format_report, verify

ORDER = ["stem", "act", "dw", "relu", "pw", "pw_rq", "res", "sig", "gate", "down", "pool", "logits", "head"]
DOWNSTREAM_OF_DW = ORDER[3:]


@pytest.fixture(scope="module")
def model():
    return demo_model()


@pytest.fixture(scope="module")
def golden(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "golden"
    manifest = export(model, demo_input(), out, formats=("npy", "memh"), backend="numpy")
    return out, manifest


def device_dump(model, manifest, target, *, fault=None, acc_fault=None, layout="same", memh=()):
    """What a device with a stuck bit would dump: the fault at one node, the rest computed from it."""
    dirs = {n["name"]: n["dir"] for n in manifest["nodes"]}

    def hook(record):
        outs = list(record.outputs)
        if fault and record.name == fault[0]:
            outs[0] = outs[0].copy()
            outs[0][fault[1]] ^= fault[2]
        acc = record.acc
        if acc_fault and record.name == acc_fault[0]:
            acc = acc.copy()
            acc[acc_fault[1]] += 1
        if layout == "flat":
            np.save(target / f"{record.name}.npy", outs[0])
        else:
            folder = target / dirs[record.name]
            folder.mkdir(parents=True)
            arrays = {"y": outs[0], record.node.kind.inputs[0]: record.inputs[0]}
            if acc is not None:
                arrays["acc"] = acc
            for role, arr in arrays.items():
                if record.name in memh:
                    dtype = manifest["files"][f"{dirs[record.name]}/{role}.npy"]["dtype"]
                    (folder / f"{role}.memh").write_text(memh_text(arr, dtype, role))
                else:
                    np.save(folder / f"{role}.npy", arr)
        return outs

    target.mkdir()
    model.run(demo_input(), backend="numpy", trace=hook)
    return target


def test_an_exact_dump_matches(golden, tmp_path):
    out, _ = golden
    dump = tmp_path / "dump"
    shutil.copytree(out, dump)
    report = verify(out, dump)
    assert report.match and report.compared == len(ORDER)
    assert format_report(report).startswith("MATCH")
    assert main(["vectors", "verify", str(out), "--dump", str(dump)]) == 0


@pytest.mark.parametrize("layout", ["same", "flat"])
def test_a_flipped_bit_originates_at_its_node_and_propagates(model, golden, tmp_path, layout):
    out, manifest = golden
    dump = device_dump(model, manifest, tmp_path / "dump", fault=("dw", (4, 7), 0x40), layout=layout)
    report = verify(out, dump)
    assert not report.match
    status = {n.name: n.status for n in report.nodes}
    assert [status[n] for n in ORDER[:2]] == ["match", "match"]
    assert status["dw"] == "originated"
    first = report.divergent[0]
    assert first.name == "dw" and first.index == 2
    y = next(t for t in first.tensors if t.role == "y")
    assert y.count == 1 and y.total == 12 * 16 and y.max_abs_diff == 0x40
    assert y.first == [{"index": [4, 7], "expected": y.first[0]["expected"], "actual": y.first[0]["actual"]}]
    assert abs(y.first[0]["expected"] - y.first[0]["actual"]) == 0x40
    later = [n.name for n in report.divergent[1:]]
    assert later and set(later) <= set(DOWNSTREAM_OF_DW)
    assert all(status[n] == "propagated" for n in later)
    assert "relu" in later  # the clamp passes the fault on
    text = format_report(report)
    assert "first divergent node #2 'dw' (conv1d): originated here" in text
    assert "(4, 7):" in text and "propagated" in text


def test_an_accumulator_fault_is_caught_even_if_the_output_matches(model, golden, tmp_path):
    out, manifest = golden
    dump = device_dump(model, manifest, tmp_path / "dump", acc_fault=("logits", (0, 0)))
    report = verify(out, dump)
    first = report.divergent[0]
    assert first.name == "logits" and first.status == "originated"
    assert [t.role for t in first.tensors if not t.match] == ["acc"]


def test_memh_dumps_and_missing_nodes(model, golden, tmp_path):
    out, manifest = golden
    dump = device_dump(model, manifest, tmp_path / "dump", memh=("dw", "down"))
    shutil.rmtree(dump / manifest["nodes"][12]["dir"])  # the device did not dump 'head'
    report = verify(out, dump)
    assert report.match and report.compared == len(ORDER) - 1
    assert "not in the dump: head" in format_report(report)


def test_shape_and_dtype_differences(golden, tmp_path):
    out, manifest = golden
    dump = tmp_path / "dump"
    dump.mkdir()
    np.save(dump / "stem.npy", np.load(out / "nodes/000_stem/y.npy").astype(np.int32))  # wider, same values
    np.save(dump / "act.npy", np.zeros((3, 3), dtype=np.int8))
    report = verify(out, dump)
    stem, act = report.nodes[0], report.nodes[1]
    assert stem.status == "match" and "values compared" in stem.tensors[0].note
    assert act.status == "originated" and "shape" in act.tensors[0].note


def test_verify_cli_exit_status_and_json(model, golden, tmp_path, capsys):
    out, manifest = golden
    dump = device_dump(model, manifest, tmp_path / "dump", fault=("gate", (0, 3), 1))
    assert main(["vectors", "verify", str(out), "--dump", str(dump), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["match"] is False and data["first_divergence"]["name"] == "gate"
    assert data["first_divergence"]["status"] == "originated"
    assert data["first_divergence"]["tensors"][-1]["fraction"] == pytest.approx(1 / 192)
    assert main(["vectors", "verify", str(out), "--dump", str(dump)]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_an_unrelated_dump_is_an_error(golden, tmp_path, capsys):
    out, _ = golden
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VectorsError, match="no file in the dump"):
        verify(out, empty)
    assert main(["vectors", "verify", str(out), "--dump", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("intref: error:") and "Traceback" not in err
