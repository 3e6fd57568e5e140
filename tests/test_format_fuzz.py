"""Mutated model files (truncation, byte flips, header edits, dimension inflation) raise only IntrefFormatError.

A file that still loads must run (or fail with an IntrefError, e.g. a shape only wrong at run time) and
re-save to a file that loads to the same graph. Memory stays bounded: the peak traced allocation per example
is checked against a small multiple of the file size.
"""

from __future__ import annotations

import json
import random
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intref.errors import IntrefError, IntrefFormatError
from intref.graph import load, loads
from intref.graph.container import parse, serialize
from intref.vectors.synthetic import demo_input, demo_model

MODEL = demo_model()
BLOB = MODEL.to_bytes()
HEADER_LEN = int.from_bytes(BLOB[:8], "little")
HEADER = json.loads(BLOB[8 : 8 + HEADER_LEN])
_C = parse(BLOB)
DOC = json.loads(_C.metadata["intref"])
ARRAYS = dict(_C.arrays)
X = demo_input()
MEMORY_LIMIT = 64 * 2**20  # the file is ~15 KB; nothing may come near this


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


DOC_PATHS = [p for p in _paths(DOC) if p]
TENSORS = sorted(ARRAYS)
NAMES = sorted(DOC["tensors"]) + [n["name"] for n in DOC["nodes"]]
WORDS = [
    "int4",
    "int8",
    "int16",
    "int32",
    "uint8",
    "float32",
    "I8",
    "U8",
    "I32",
    "F16",
    "T",
    "T2",
    "linear",
    "lut",
    "conv1d",
    "add",
    "error",
    "wrap",
    "saturate",
    "tflite_double",
    "tosa_double",
    "onnx",
    "__metadata__",
    "",
]
JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-3, 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS + NAMES),
    st.text(max_size=4),
    st.lists(st.integers(-3, 2**33), max_size=4),
    st.dictionaries(st.sampled_from(WORDS), st.integers(-2, 64), max_size=2),
)
BIG = st.sampled_from([2, 3, 1000, 2**20, 2**31, 2**32, 2**40, 2**62, 2**64])


def _container(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _get_parent(obj, path):
    for k in path[:-1]:
        obj = obj[k]
    return obj


def mutate_document(data) -> bytes:
    doc = json.loads(json.dumps(DOC))
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        path = data.draw(st.sampled_from(DOC_PATHS), label="path")
        try:
            parent = _get_parent(doc, path)
            value = parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this place
        action = data.draw(st.sampled_from(["delete", "replace", "scale", "grow"]), label="action")
        if action == "delete":
            del parent[path[-1]]
        elif action == "scale" and isinstance(value, (int, float)) and not isinstance(value, bool):
            parent[path[-1]] = value * data.draw(BIG) + data.draw(st.integers(-1, 1))
        elif action == "grow" and isinstance(value, list):
            value.append(value[0] if value else data.draw(JSON_VALUES))
        else:
            parent[path[-1]] = data.draw(JSON_VALUES, label="value")
    return serialize({"intref": json.dumps(doc)}, ARRAYS)


def mutate_container_entry(data) -> bytes:
    header = json.loads(json.dumps(HEADER))
    name = data.draw(st.sampled_from(TENSORS), label="tensor")
    entry = header[name]
    field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets", "extra", "delete"]), label="field")
    if field == "dtype":
        entry["dtype"] = data.draw(
            st.one_of(st.sampled_from(["I8", "U8", "I16", "I32", "I64", "F16", "BF16", "BOOL"]), JSON_VALUES)
        )
    elif field == "shape":
        entry["shape"] = data.draw(st.one_of(st.lists(st.integers(-1, 2**65), max_size=5), JSON_VALUES))
    elif field == "data_offsets":
        i = data.draw(st.integers(0, 1))
        entry["data_offsets"][i] += data.draw(st.sampled_from([-8, -1, 1, 4, 8, 2**32, 2**62]))
    elif field == "extra":
        entry[data.draw(st.sampled_from(["x", "offsets"]))] = 1
    else:
        del header[name]
    return _container(header, BLOB[8 + HEADER_LEN :])


def inflate_dimension(data) -> bytes:
    """A dimension multiplied up, in the container header or in the graph's tensor specs."""
    factor = data.draw(BIG, label="factor")
    if data.draw(st.booleans(), label="in container"):
        header = json.loads(json.dumps(HEADER))
        entry = header[data.draw(st.sampled_from(TENSORS))]
        if not entry["shape"]:
            entry["shape"] = [factor]
        else:
            entry["shape"][data.draw(st.integers(0, len(entry["shape"]) - 1))] *= factor
        return _container(header, BLOB[8 + HEADER_LEN :])
    doc = json.loads(json.dumps(DOC))
    spec = doc["tensors"][data.draw(st.sampled_from(sorted(doc["tensors"])))]
    ints = [i for i, d in enumerate(spec["shape"]) if isinstance(d, int)]
    if ints:
        spec["shape"][data.draw(st.sampled_from(ints))] *= factor
    else:
        spec["shape"].append(factor)
    return serialize({"intref": json.dumps(doc)}, ARRAYS)


def truncate(data) -> bytes:
    return BLOB[: data.draw(st.integers(0, len(BLOB) - 1), label="length")]


def flip_bytes(data) -> bytes:
    blob = bytearray(BLOB)
    region = data.draw(st.sampled_from(["length", "header", "data", "anywhere"]), label="region")
    lo, hi = {
        "length": (0, 7),
        "header": (8, 7 + HEADER_LEN),
        "data": (8 + HEADER_LEN, len(BLOB) - 1),
        "anywhere": (0, len(BLOB) - 1),
    }[region]
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        pos = data.draw(st.integers(lo, hi))
        blob[pos] ^= data.draw(st.integers(1, 255))
    return bytes(blob)


def edit_header_length(data) -> bytes:
    value = data.draw(
        st.one_of(
            st.integers(0, 2**64 - 1),
            st.integers(HEADER_LEN - 16, HEADER_LEN + 16),
            st.sampled_from([len(BLOB) - 8, len(BLOB), 100_000_000, 100_000_001]),
        )
    )
    return value.to_bytes(8, "little") + BLOB[8:]


MUTATORS = {
    "document": mutate_document,
    "container_entry": mutate_container_entry,
    "inflate": inflate_dimension,
    "truncate": truncate,
    "flip": flip_bytes,
    "header_length": edit_header_length,
}


def exercise(blob: bytes) -> str:
    """Load (and, if that works, run and re-save) a file; returns what happened. Anything else propagates."""
    try:
        model = loads(blob)
    except IntrefFormatError:
        return "rejected"
    try:
        model.run(X, backend="numpy")
    except IntrefError:
        pass
    again = loads(model.to_bytes())
    assert again.graph.to_json() == model.graph.to_json()
    return "loaded"


def traced_peak(blob: bytes) -> int:
    """Peak bytes allocated (as traced by tracemalloc, which NumPy reports to) while exercising ``blob``."""
    tracemalloc.start()
    try:
        exercise(blob)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_files_only_raise_format_errors(data):
    kind = data.draw(st.sampled_from(sorted(MUTATORS)), label="mutation")
    blob = MUTATORS[kind](data)
    # Memory is traced on a quarter of the examples: tracing makes each one several times slower.
    if data.draw(st.integers(0, 3), label="trace memory") == 0 and not tracemalloc.is_tracing():
        peak = traced_peak(blob)
        assert peak < MEMORY_LIMIT, f"{kind}: peak allocation {peak} bytes"
    else:
        exercise(blob)


def test_seeded_byte_mutations_from_disk(tmp_path):
    """A seeded loop through the memory-mapped path (load from a file), on top of the hypothesis run."""
    rng = random.Random(20261122)
    outcomes = {"rejected": 0, "loaded": 0}
    path = tmp_path / "m.intref"
    for _ in range(300):
        blob = bytearray(BLOB)
        if rng.random() < 0.3:
            blob = blob[: rng.randrange(len(blob))]
        else:
            for _ in range(rng.randint(1, 6)):
                blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(blob))
        model = None
        tracemalloc.start()
        try:
            model = load(path)
        except IntrefFormatError as exc:
            assert str(path) in str(exc)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < MEMORY_LIMIT
        if model is None:
            outcomes["rejected"] += 1
            continue
        try:
            model.run(X, backend="numpy")
        except IntrefError:
            pass
        outcomes["loaded"] += 1
    assert outcomes["rejected"] > 100  # the mutations mostly break the file
