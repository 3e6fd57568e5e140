"""Speech recognition with an integer model: audio in, phonemes with word boundaries and times out.

``Recognizer.load()`` gives the default model (hama 1.7.0's Conformer-CTC, mixed 4/8-bit weights, built on first
use from the installed hama package and a committed recipe); ``recognizer.transcribe_file(path)`` returns a
:class:`Transcript`. :mod:`intref.asr.evaluation` scores a model against reference transcripts.
"""

from .recognizer import Recognizer
from .transcript import FRAME_SECONDS, Token, Transcript, group_words, tokens_from_frames

__all__ = ["FRAME_SECONDS", "Recognizer", "Token", "Transcript", "group_words", "tokens_from_frames"]
