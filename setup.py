"""Builds the C core (native/) through cffi. A machine without a working C compiler still installs intref:
the build warns once and the numba backend takes over at run time."""

import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    failed = False

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler/toolchain failure must not fail the install
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    @classmethod
    def _warn(cls, exc):
        if cls.failed:  # one warning per install; later steps only fail for the same reason
            return
        cls.failed = True
        print(
            f"WARNING: intref's native C core was not built ({exc}). "
            "intref will use its numba backend; install a C compiler and reinstall for the native one.",
            file=sys.stderr,
        )


setup(cffi_modules=["native/build.py:ffibuilder"], cmdclass={"build_ext": OptionalBuildExt})
