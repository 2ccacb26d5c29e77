"""Database models, named queries and the use cases of the people side (accounts, teams, enrolment).

Importing this package registers every table on ``Base.metadata``.
"""

from models import audit, flags, outbox, patients, reports, teams, thresholds, users  # noqa: F401
from models.base import Base

__all__ = ["Base"]
