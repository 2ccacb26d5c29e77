"""marshmallow schemas: request validation and response shape. No database, no current user."""
