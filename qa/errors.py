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


class QuestionsError(QAError):
    """An eval questions file is missing, malformed, or a gold answer is not in its source article."""


class ReportError(QAError):
    """An eval report cannot be written where --out points."""


class UploadError(QAError):
    """An uploaded file cannot be added: wrong type, too big, a name with folder parts, unreadable."""


class LLMError(QAError):
    """The LLM endpoint cannot be reached, is too slow, or failed: the message names the problem and the fix."""


class ClusterError(QAError):
    """The Ray cluster cannot be reached, or a cluster build failed: the message names the problem and the fix."""


class GGUFError(QAError):
    """The GGUF file cannot be fetched or assembled."""
