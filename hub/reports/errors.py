"""The reports' one error: a bad request for a report, with a message in both languages."""

from __future__ import annotations


class ReportError(ValueError):
    """A report that cannot be made as asked (bad quarter, unknown school, ...)."""

    def __init__(self, vi: str, en: str, status: int = 422) -> None:
        super().__init__(en)
        #: The HTTP status an API answers with.
        self.vi, self.en, self.status = vi, en, status
