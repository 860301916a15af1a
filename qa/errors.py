"""The error hierarchy. Only the CLI and the UI turn these into words for people."""


class QAError(Exception):
    """Base class: the message names the problem and the fix, on one line."""


class ArticlesError(QAError):
    """The articles folder is missing, empty or holds nothing readable."""


class IndexMissingError(QAError):
    """There is no index where one was expected."""


class IndexMismatchError(QAError):
    """The index on disk was built with other settings (model, chunker, format)."""


class IndexBusyError(QAError):
    """Another build holds the index lock."""


class ModelError(QAError):
    """The embedding model cannot be loaded offline."""


class QuestionError(QAError, ValueError):
    """The question or its options cannot be searched (empty question, k <= 0)."""


class SettingsError(QAError, ValueError):
    """A setting has a value that cannot work."""
