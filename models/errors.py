"""Domain errors. The web layer maps each class to one HTTP status (api/errors.py)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""

    # True when the work done before the error must be committed all the same (a revoked
    # session after refresh-token reuse, the audit event of a refusal).
    keep_changes: bool = False

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class NotFoundError(DomainError):
    """The thing does not exist, or the caller may not know that it does."""


class PermissionDeniedError(DomainError):
    """The caller may see the thing but not do this to it."""


class AuthenticationError(DomainError):
    """Credentials or tokens are missing, wrong, expired or revoked."""


class ConflictError(DomainError):
    """The request clashes with the current state (a duplicate, a spent code)."""


class InvalidInputError(DomainError):
    """Input that is well-formed but not acceptable given the stored state."""
