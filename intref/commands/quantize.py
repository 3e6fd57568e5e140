"""``intref quantize MODEL``: a hama acoustic model to an integer ``.intref`` file (post-training quantisation)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ._common import add_command

DESCRIPTION = """\
Quantise a hama model to an integer model file: an acoustic model (hama-1.7: the Conformer-CTC of hama 1.7.0,
from the installed package or --asset; hama-1.6: the separable-conv model of hama 1.6.0, from --asset) or the
phoneme-to-text model (hama-p2g: the installed package's p2g.hama, or --asset).

Weights: int8, int4 (4-bit everywhere), mixed (hama-1.7: 4-bit feed-forward and conv-module pointwise layers;
hama-1.6: 4-bit attention, feed-forward and squeeze-excite; the rest 8-bit), or --config FILE
({"default": 8, "rules": [["b*.ffn*.fc*", 4]]}: the first matching rule wins).
hama-p2g: int8, mixed (4-bit feed-forward) or int4 (all but the tied embedding).
Calibration: a manifest (tsv) or a directory of audio (--calib-count clips, evenly spaced), or `synthetic`
(speech-like audio made from a seed, no speech data; not for hama-p2g, which calibrates on the phonemes the
float hama-1.7 model hears in real speech). --recipe rebuilds a model from a saved recipe without
calibration data; --save-recipe writes the recipe of this run. The same inputs give the same file bytes.

examples:
  intref quantize hama-1.7 --weights mixed --calib ../shared/data/speech/manifest.tsv -o hama17-mixed.intref
  intref quantize hama-1.6 --asset hama160/asr_waveform.hama --weights int8 --calib synthetic -o h16.intref
  intref quantize hama-1.7 --recipe hama17-mixed.json -o hama17-mixed.intref
  intref quantize hama-p2g --weights mixed --calib ../shared/data/speech/manifest.tsv -o p2g-mixed.intref"""


def register(sub) -> None:
    p = add_command(sub, "quantize", "quantise a hama model to an integer model file", DESCRIPTION)
    p.add_argument("model", choices=("hama-1.7", "hama-1.6", "hama-p2g"), help="which model")
    p.add_argument("-o", "--output", required=True, help="the .intref file to write")
    p.add_argument("--asset", help="the model's .hama file (default for hama-1.7: the installed hama package's)")
    p.add_argument("--weights", choices=("int8", "int4", "mixed"), default="int8", help="weight bits (default int8)")
    p.add_argument("--config", help="a bit configuration JSON file (overrides --weights)")
    p.add_argument("--calib", help="a manifest, a directory of audio, or 'synthetic'")
    p.add_argument("--calib-count", type=int, help="clips to use (default 8 real, 16 synthetic)")
    p.add_argument("--calib-clips", nargs="*", default=[], help="only clips whose path contains one of these")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic calibration audio (default 0)")
    p.add_argument("--method", choices=("percentile", "mse", "minmax"), default="percentile", help="activation ranges")
    p.add_argument("--percentile", type=float, default=99.99, help="for --method percentile (default 99.99)")
    p.add_argument(
        "--weight-method",
        choices=("gptq", "output", "mse", "minmax"),
        default="gptq",
        help="weights: GPTQ on output-error clipping (default), output-error clipping, weight-error clipping, none",
    )
    p.add_argument("--equalize", type=float, default=0.0, help="channel equalisation strength 0..1 (default 0: off)")
    p.add_argument(
        "--probability-bits",
        type=int,
        choices=(8, 15),
        default=15,
        help="attention probabilities: 15 (int16, P V as two int8 products; default) or 8",
    )
    p.add_argument("--residual-bits", type=int, choices=(8, 16), default=16, help="residual stream (default 16)")
    p.add_argument(
        "--narrow-activations",
        action="store_true",
        help="int8 pre-activations with plain lookup tables (default: int16 ones, activations as x * gate(x))",
    )
    p.add_argument("--recipe", help="rebuild from this recipe (no calibration)")
    p.add_argument("--save-recipe", help="write the recipe of this run here")
    p.set_defaults(func=run)


class Progress:
    """Says what a long step is doing, on stderr, with the time since the start."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)


def ptq_options(args) -> dict:
    """The options of ``ptq.make_recipe`` every model takes."""
    return {
        "weight_method": args.weight_method,
        "range_method": args.method,
        "percentile": args.percentile,
        "probability_bits": args.probability_bits,
        "wide_activations": not args.narrow_activations,
    }


def run_p2g(args, say: Progress):
    """(model, recipe, learned float parameters) of the P2G model."""
    from ..errors import IntrefInputError
    from ..models.hama.p2g import load_p2g_weights
    from ..models.hama.p2g_quantize import calibration_prefixes, learned_parameters, quantize_p2g
    from ..quantize.config import load_config
    from ..quantize.inputs import real_waveforms
    from ..quantize.recipe import Recipe

    if args.equalize or args.residual_bits != 16:
        raise IntrefInputError("--equalize and --residual-bits apply to the acoustic models, not hama-p2g")
    float_params = learned_parameters(load_p2g_weights(args.asset))
    if args.recipe:
        if args.calib or args.config:
            raise IntrefInputError("--recipe rebuilds without calibration: drop --calib and --config")
        model, recipe = quantize_p2g(recipe=Recipe.load(args.recipe), asset=args.asset, progress=say)
        return model, recipe, float_params
    if not args.calib or args.calib == "synthetic":
        raise IntrefInputError("hama-p2g calibrates on real speech: give --calib a manifest or a directory of audio")
    try:
        chosen = real_waveforms(args.calib, count=args.calib_count or 8, clips=args.calib_clips, progress=say)
    except (ValueError, FileNotFoundError) as exc:
        raise IntrefInputError(str(exc)) from None
    prefixes = calibration_prefixes([wav for _, wav in chosen], say)
    info = {"kind": "real", "source": str(args.calib), "clips": [n for n, _ in chosen], "phonemes": "hama-1.7 float"}
    model, recipe = quantize_p2g(
        weights=args.weights,
        config=load_config(args.config) if args.config else None,
        prefixes=prefixes,
        calibration_info=info,
        asset=args.asset,
        progress=say,
        **ptq_options(args),
    )
    return model, recipe, float_params


def run(args) -> int:
    from ..errors import IntrefInputError
    from ..models.hama.integer import features_of, learned_parameters, load_float, quantize_hama
    from ..quantize.config import load_config
    from ..quantize.inputs import real_set, synthetic_set
    from ..quantize.recipe import Recipe

    say = Progress()
    if args.model == "hama-p2g":
        model, recipe, float_params = run_p2g(args, say)
    elif args.recipe:
        if args.calib or args.config:
            raise IntrefInputError("--recipe rebuilds without calibration: drop --calib and --config")
        say(f"reading the recipe {args.recipe}")
        recipe = Recipe.load(args.recipe)
        model, recipe, fmodel = quantize_hama(args.model, recipe=recipe, asset=args.asset, progress=say)
    else:
        if not args.calib:
            raise IntrefInputError("give calibration data with --calib (a manifest, a directory or 'synthetic')")
        say(f"loading the float {args.model} model")
        fmodel = load_float(args.model, args.asset)
        features = features_of(fmodel)
        if args.calib == "synthetic":
            calib = synthetic_set(features, count=args.calib_count or 16, seed=args.seed, progress=say)
        else:
            calib = real_set(args.calib, features, count=args.calib_count or 8, clips=args.calib_clips, progress=say)
        config = load_config(args.config) if args.config else None
        model, recipe, _ = quantize_hama(
            args.model,
            weights=args.weights,
            config=config,
            calibration=calib,
            asset=args.asset,
            progress=say,
            equalize_alpha=args.equalize,
            residual_bits=args.residual_bits,
            **ptq_options(args),
        )
    if args.save_recipe:
        recipe.save(args.save_recipe)
        say(f"wrote the recipe {args.save_recipe}")
    say(f"writing {args.output}")
    sha = model.save(args.output)
    stored = sum(a.nbytes for a in model.stored.values())
    float_bytes = 4 * (float_params if args.model == "hama-p2g" else learned_parameters(args.model, fmodel))
    print(
        f"{args.output}: {len(model.nodes)} nodes, {stored:,} bytes of tensors "
        f"({float_bytes / stored:.2f}x smaller than float32), file {Path(args.output).stat().st_size:,} bytes, "
        f"sha256 {sha}"
    )
    return 0
