"""Storyreel: turn an idea into a storyboard."""

from importlib import metadata

try:
    __version__ = metadata.version("storyreel")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
