"""Exceptions of the ``intents`` package.

Every error raised on purpose by this package derives from :class:`IntentsError`, so callers can
catch the package's failures in one place::

    IntentsError
    ├── TrainingDataError        the Rasa YAML training files are missing, malformed or incomplete
    ├── ModelError               a persisted model cannot be written or read back
    ├── ConfigurationError       a classifier was configured with unusable settings (also ValueError)
    │   └── UnknownClassifierError   no classifier is registered under the configured name
    ├── ExportError              the Rasa project cannot be written
    └── RasaServerError          a Rasa server call failed
        ├── RasaUnavailableError the server could not be reached or timed out
        └── RasaResponseError    the server answered with an error status or an unreadable body
"""

from __future__ import annotations


class IntentsError(Exception):
    """Base of every error this package raises on purpose."""


class TrainingDataError(IntentsError):
    """The training data cannot be used."""


class ModelError(IntentsError):
    """A persisted model cannot be saved or loaded."""


class ConfigurationError(IntentsError, ValueError):
    """A classifier cannot be built from the given settings."""


class UnknownClassifierError(ConfigurationError):
    """The configured classifier name is not registered."""


class ExportError(IntentsError):
    """The Rasa project cannot be written."""


class RasaServerError(IntentsError):
    """A call to a Rasa server failed."""


class RasaUnavailableError(RasaServerError):
    """The Rasa server could not be reached in time."""


class RasaResponseError(RasaServerError):
    """The Rasa server answered, but not with a usable parse result."""
