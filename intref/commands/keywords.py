"""``intref keywords AUDIO... --model M --preprocessor P``: keyword spotting integer-only (the micro_speech way)."""

from __future__ import annotations

from ._common import add_command, print_json

DESCRIPTION = """\
Spot keywords in 16 kHz mono audio with TensorFlow Lite Micro's micro_speech pipeline, integer-only: the integer
front end (bit-exact with the example's audio_preprocessor_int8.tflite, whose constants it reads) and an int8
classifier (a .tflite file, imported on the fly, or an .intref file from `intref import-tflite`) on each second of
features. Prints the label of each one-second window (every --stride-ms) with its probability.

example:
  intref keywords yes_1000ms.wav --model micro_speech_quantized.tflite \\
      --preprocessor audio_preprocessor_int8.tflite"""


def register(sub) -> None:
    p = add_command(sub, "keywords", "spot keywords (TFLite Micro micro_speech pipeline, integer-only)", DESCRIPTION)
    p.add_argument("audio", nargs="+", help="16 kHz mono audio files")
    p.add_argument("--model", required=True, help="the classifier: a .tflite or .intref file")
    p.add_argument("--preprocessor", required=True, help="the audio_preprocessor_int8.tflite of the front end")
    p.add_argument(
        "--labels",
        default="silence,unknown,yes,no",
        help="comma-separated class names in output order (default: micro_speech's)",
    )
    p.add_argument("--stride-ms", type=int, default=500, help="between windows of a long clip (default 500)")
    p.add_argument("--backend", help="numpy, native, numba or auto (default: INTREF_BACKEND or auto)")
    p.add_argument("--json", action="store_true", help="print every window as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..asr.keywords import KeywordSpotter, read_keyword_audio
    from ..errors import IntrefInputError
    from ..frontend.micro_features import STRIDE

    if args.stride_ms < 20:
        raise IntrefInputError(f"--stride-ms must be at least 20 (one frame), got {args.stride_ms}")
    labels = tuple(s.strip() for s in args.labels.split(",") if s.strip())
    spotter = KeywordSpotter.from_files(args.model, args.preprocessor, labels=labels, backend=args.backend)
    stride = max(1, args.stride_ms * 16 // STRIDE)
    report = []
    for path in args.audio:
        windows = spotter.classify(read_keyword_audio(path), stride=stride)
        report.append({"file": path, "windows": [w.__dict__ for w in windows]})
        if not args.json:
            for w in windows:
                p = max(w.probabilities)
                print(f"{path}\t{w.start:.2f}-{w.end:.2f}s\t{w.label}\t{p:.3f}")
    if args.json:
        print_json(report)
    return 0
