"""The project's exception types; the CLI and app turn them into messages for people."""


class KBError(Exception):
    """Base class for every error PolicyKB raises on purpose."""


class IngestError(KBError):
    """A file could not be read into a document; names the file and the reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ConfigError(KBError):
    """A setting is invalid, or a requested backend or model is not installed."""


class BadIndexError(KBError):
    """An index is missing, corrupt, or was built with incompatible settings."""


class IndexBusyError(BadIndexError):
    """Another build holds the index folder's lock; try again when it is done."""


class DamagedIndexError(BadIndexError):
    """An index file is unreadable, malformed or not what the manifest's checksum says; rebuild it."""


class InputError(KBError):
    """What a person typed or sent is not a usable question, date, document or file.

    `zh` says the same in Chinese for the web UI.
    """

    def __init__(self, message: str, zh: str):
        super().__init__(message)
        self.zh = zh
