"""Page a query for flask-smorest's ``@blp.paginate()``."""

from __future__ import annotations

from typing import Any

from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


def page_of(session: Session, query: Select[Any], params: PaginationParameters) -> list[Any]:
    """Return one page of ``query`` and set the total for the X-Pagination header."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    params.item_count = total
    if params.first_item >= total:
        # Answer early: a huge ?page= would otherwise overflow OFFSET.
        return []
    return list(session.scalars(query.offset(params.first_item).limit(params.page_size)))
