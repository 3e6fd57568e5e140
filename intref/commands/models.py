"""``intref models list|fetch|build``: the built-in integer models, their float sources and the cache."""

from __future__ import annotations

import argparse
import sys

from ._common import add_command, print_json

DESCRIPTION = """\
The built-in models are integer versions of the hama acoustic models, each made from a recipe shipped with
intref and the float weights of the hama package; they are built on first use into the cache ($INTREF_CACHE,
else $XDG_CACHE_HOME/intref, else ~/.cache/intref) and checked against the sha256 recorded with the recipe.

  list    the built-in models, whether their float weights are here, the cached files
  fetch   get the float weights of a hama version that is not installed (hama-1.6: downloads the
          hama==1.6.0 wheel from PyPI with pip, once, and keeps only its asr_waveform.hama)
  build   build built-in models into the cache now (otherwise the first transcription does)"""

FETCH = """\
Download the hama wheel of MODEL's version with `pip download --no-deps hama==VERSION` (the current Python's
pip), take hama/assets/asr_waveform.hama (and the vocabulary) out of it, check that it is the published file
(sha256) and store it in the cache. --from uses a wheel or an asr_waveform.hama already on disk instead.

example: intref models fetch hama-1.6"""


def register(sub) -> None:
    from ..models.default import BUILTINS

    p = add_command(sub, "models", "list, fetch and build the built-in models", DESCRIPTION)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])

    ls = add_command(msub, "list", "show the built-in models and the cache", DESCRIPTION)
    ls.add_argument("--json", action="store_true", help="print as JSON")
    ls.set_defaults(func=run_list)

    f = add_command(msub, "fetch", "fetch the float weights of a hama version", FETCH)
    f.add_argument("model", choices=list(BUILTINS), help="which hama model")
    f.add_argument("--from", dest="source", metavar="FILE", help="a hama wheel or asr_waveform.hama to use instead")
    f.add_argument("--force", action="store_true", help="fetch again even if the file is already here")
    f.set_defaults(func=run_fetch)

    b = add_command(msub, "build", "build built-in models into the cache", DESCRIPTION)
    b.add_argument("models", nargs="*", metavar="MODEL", help=f"{', '.join(BUILTINS)} (default: all available)")
    b.set_defaults(func=run_build)


def say(message: str) -> None:
    print(f"intref: {message}", file=sys.stderr, flush=True)


def run_list(args: argparse.Namespace) -> int:
    from ..models.default import status

    info = status()
    if args.json:
        print_json(info)
        return 0
    print(f"cache: {info['cache']}")
    print()
    print("built-in models:")
    for m in info["builtin"]:
        mark = " (default)" if m["default"] else ""
        print(f"  {m['name']}{mark}: {m['weights']} integer, recipe {m['recipe']}, sha256 {m['sha256']}")
        asset = m["asset"]
        print(f"    float weights: {asset['path']} ({asset['origin']})" if asset else
              f"    float weights: not here (`intref models fetch {m['name']}`)")  # fmt: skip
        print(f"    built: {m['cached']}" if m["cached"] else "    built: not yet (built on first use)")
        if m.get("problem"):
            print(f"    problem: {m['problem']}")
    if info["other_cached_models"]:
        print()
        print("other model files in the cache:")
        for path in info["other_cached_models"]:
            print(f"  {path}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from ..models.fetch import fetch

    asset = fetch(args.model, source=args.source, force=args.force, progress=say)
    print(f"{args.model}: {asset.path} (sha256 {asset.sha256}, {asset.origin})")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from ..models.default import BUILTINS, builtin, ensure_model
    from ..models.fetch import find_model_asset, missing_asset_message

    for name in args.models:
        builtin(name)  # an unknown name is a usage error before anything is built
    names = args.models or [n for n, b in BUILTINS.items() if find_model_asset(b.model_id) is not None]
    if not names:
        say(missing_asset_message("hama-1.7"))
        return 2
    for name in names:
        print(f"{name}: {ensure_model(name, progress=say)}")
    return 0
