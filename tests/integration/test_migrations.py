"""The Alembic migrations build exactly the schema the models describe (on this test database)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models
from api.extensions import db
from models.migrate import include_name


def test_migrated_schema_equals_the_models(app):
    # The session's database was built by running the migrations (tests/conftest.py).
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": include_name, "compare_type": True}
        )
        diff = compare_metadata(context, models.Base.metadata)
    assert diff == []
