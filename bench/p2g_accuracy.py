"""Words from audio: word and character error rates of the float and integer pipelines, and the P2G decoder alone.

On every clip of the manifest (transcripts normalised by intref.evaluate.text.normalize_text on both sides):

- `hama runtime`: the hama package's own ASRModel, then P2GModel on its `word_phoneme_text` (the documented route);
- `intref float`: intref's float32 acoustic model (hama 1.7.0) and float32 P2G decoder;
- `intref int8` / `intref mixed`: the integer acoustic model and the integer P2G decoder of the same bit
  configuration (mixed: the built-in models; int8: both quantised here, real calibration on the same 8 clips);
- `P2G round trip`: the P2G decoder alone on the G2P phonemes of the transcript (float, and each integer P2G);
- token agreement of each integer P2G with the float one on the same inputs (the float acoustic model's phonemes
  and the G2P phonemes): 1 - character edit rate of its generated tokens against the float decoder's;
- size of each P2G model's tensors and the compression against float32 (7,299,936 parameters).

    python bench/p2g_accuracy.py [--manifest M] [--backend native] [--markdown | --json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

DEFAULT_MANIFEST = REPO.parent / "shared" / "data" / "speech" / "manifest.tsv"


def say(msg: str) -> None:
    print(f"[p2g accuracy] {msg}", file=sys.stderr, flush=True)


def load(manifest_path: Path):
    from intref.evaluate import read_manifest
    from intref.evaluate.references import G2PReferences
    from intref.frontend.audio import load_waveform

    manifest = read_manifest(manifest_path)
    clips = []
    with G2PReferences() as refs:
        for e in manifest:
            wav = load_waveform(manifest.audio_path(e), e.raw_format)
            g2p = [tokens for _, tokens in refs.words(e.reference) if tokens]
            clips.append({"path": e.path, "text": e.reference, "wav": wav, "g2p": g2p})
    return clips


def build_int8(workdir: Path, manifest: Path) -> tuple[Path, Path]:
    """An int8 acoustic model and an int8 P2G model, calibrated on the same 8 clips as the built-in ones."""
    from intref.models.hama.integer import features_of, load_float, quantize_hama
    from intref.models.hama.p2g_quantize import calibration_prefixes, quantize_p2g
    from intref.quantize.inputs import real_set, real_waveforms

    say("quantising an int8 hama-1.7 model (real calibration)")
    fmodel = load_float("hama-1.7")
    am, _, _ = quantize_hama("hama-1.7", weights="int8", calibration=real_set(manifest, features_of(fmodel)))
    am_path = workdir / "hama-1.7-int8.intref"
    am.save(am_path)
    say("quantising an int8 P2G model (same clips)")
    prefixes = calibration_prefixes([wav for _, wav in real_waveforms(manifest)])
    p2g, _ = quantize_p2g(weights="int8", prefixes=prefixes, calibration_info={"kind": "real"})
    p2g_path = workdir / "hama-p2g-int8.intref"
    p2g.save(p2g_path)
    return am_path, p2g_path


def scores(refs: list[str], hyps: list[str]) -> dict:
    from intref.evaluate.metrics import char_errors, corpus_errors, word_errors
    from intref.evaluate.text import normalize_text

    r = [normalize_text(t) for t in refs]
    h = [normalize_text(t) for t in hyps]
    w = corpus_errors(word_errors(a, b) for a, b in zip(r, h, strict=True))
    c = corpus_errors(char_errors(a, b) for a, b in zip(r, h, strict=True))
    return {"wer": 100 * w.rate, "cer": 100 * c.rate, "word_edits": w.edits, "ref_words": w.ref_len}


def agreement(base: list[tuple[int, ...]], other: list[tuple[int, ...]]) -> float:
    """1 - edit rate of generated token ids against the float decoder's, over all inputs."""
    from intref.evaluate.metrics import corpus_errors, token_errors

    total = corpus_errors(
        token_errors([str(t) for t in a], [str(t) for t in b]) for a, b in zip(base, other, strict=True)
    )
    return 100 * (1 - total.edits / total.ref_len)


def _joined(runs):
    from intref.asr.words import join_texts
    from intref.models.hama.p2g import P2GResult

    return P2GResult(sum((r.ids for r in runs), ()), (), join_texts(r.text for r in runs), ())


def _percent(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    p.add_argument("--backend", default="native")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true")
    fmt.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from intref.asr import Recognizer
    from intref.asr.words import TextModel, decode_words, join_texts, segments
    from intref.graph import load as load_model
    from intref.models.default import TEXT_MODEL, ensure_model
    from intref.models.hama.decode import collapse, split_words
    from intref.models.hama.model import load_acoustic_model
    from intref.models.hama.p2g import FloatP2G, P2GResult, load_p2g_weights
    from intref.models.hama.p2g_quantize import learned_parameters
    from intref.models.hama.p2g_text import asr_words_to_phonemes, load_p2g_vocab

    start = time.monotonic()
    clips = load(args.manifest)
    texts = [c["text"] for c in clips]
    rows: dict[str, dict] = {}

    say("hama runtime (ASRModel + P2GModel)")
    from hama import P2GModel
    from hama.asr import ASRModel

    asr, rt = ASRModel(), P2GModel()
    rows["hama runtime"] = scores(
        texts, [rt.predict(asr.transcribe_waveform(c["wav"], 16000).word_phoneme_text).text for c in clips]
    )
    rows["P2G round trip, hama runtime"] = scores(
        texts, [rt.predict(asr_words_to_phonemes(c["g2p"])).text for c in clips]
    )

    say("intref float")
    fam = load_acoustic_model()
    weights, vocab = load_p2g_weights(), load_p2g_vocab()
    fp2g = FloatP2G(weights)
    float_words = [[list(w) for w in fam.transcribe(c["wav"]).words] for c in clips]

    def float_decode(words):
        """The float decoder's result, in the runs TextModel decodes (one for every clip here)."""
        runs = [decode_words(lambda source: fp2g.predict(source, vocab), seg) for seg in segments(words)]
        return P2GResult(sum((r.ids for r in runs), ()), (), join_texts(r.text for r in runs), ())

    float_asr = [float_decode(w) for w in float_words]
    float_g2p = [float_decode(c["g2p"]) for c in clips]
    rows["intref float"] = scores(texts, [r.text for r in float_asr])
    rows["P2G round trip, intref float"] = scores(texts, [r.text for r in float_g2p])

    params = learned_parameters(weights)
    sizes = {"float32": {"bytes": 4 * params, "compression": 1.0}}
    with tempfile.TemporaryDirectory(prefix="intref-p2g-acc-") as tmp:
        am8, p2g8 = build_int8(Path(tmp), args.manifest)
        configs = {"int8": (str(am8), str(p2g8)), "mixed": (None, str(ensure_model(TEXT_MODEL)))}
        for label, (am_spec, p2g_spec) in configs.items():
            say(f"intref {label} pipeline")
            rec = Recognizer.load(am_spec, backend=args.backend)
            text = TextModel(load_model(p2g_spec), args.backend, label)
            stored = sum(a.nbytes for a in text.model.stored.values())
            sizes[label] = {"bytes": stored, "compression": 4 * params / stored}
            int_words = [[list(w) for w in split_words(collapse(rec.frames(c["wav"])), rec.tokens)] for c in clips]
            rows[f"intref {label}"] = scores(texts, [text.text(w) for w in int_words])
            on_float = [_joined(text.decode_all(w)) for w in float_words]
            on_g2p = [_joined(text.decode_all(c["g2p"])) for c in clips]
            rows[f"P2G round trip, intref {label} P2G"] = scores(texts, [r.text for r in on_g2p])
            rows[f"intref float acoustic + {label} P2G"] = scores(texts, [r.text for r in on_float])
            sizes[label]["agreement_asr"] = agreement([r.ids for r in float_asr], [r.ids for r in on_float])
            sizes[label]["agreement_g2p"] = agreement([r.ids for r in float_g2p], [r.ids for r in on_g2p])
    result = {"clips": len(clips), "rows": rows, "p2g": sizes, "seconds": round(time.monotonic() - start, 1)}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    lines = [
        f"{len(clips)} clips ({result['seconds']} s)",
        "",
        "| pipeline | WER % | CER % | word edits |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {k} | {v['wer']:.2f} | {v['cer']:.2f} | {v['word_edits']}/{v['ref_words']} |" for k, v in rows.items()
    ]
    lines += ["", "| P2G | bytes | vs float32 | token agreement, float ASR input % | token agreement, G2P input % |"]
    lines += ["|---|---:|---:|---:|---:|"]
    for k, v in sizes.items():
        a1, a2 = (_percent(v.get(key)) for key in ("agreement_asr", "agreement_g2p"))
        lines.append(f"| {k} | {v['bytes']:,} | {v['compression']:.2f}x | {a1} | {a2} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
