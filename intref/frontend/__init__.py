"""Audio in and features: file reading, mono mixdown, resampling to 16 kHz, log-mel, long-clip windows."""

from .audio import Audio, AudioError, RawFormat, load_waveform, prepare_waveform, read_audio
from .chunking import chunked, merge_window_outputs, plan_windows
from .logmel import LogMelFrontEnd, log_mel, num_frames
from .resample import resample

__all__ = [
    "Audio",
    "AudioError",
    "LogMelFrontEnd",
    "RawFormat",
    "chunked",
    "load_waveform",
    "log_mel",
    "merge_window_outputs",
    "num_frames",
    "plan_windows",
    "prepare_waveform",
    "read_audio",
    "resample",
]
