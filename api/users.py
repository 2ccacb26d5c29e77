"""Accounts administered by admins: clinicians and other admins."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields
from sqlalchemy import select

from api.auth import roles_required
from api.extensions import db, utcnow
from api.pagination import page_of
from models.errors import NotFoundError
from models.users import Role, User, create_user
from schemas.auth import UserSchema
from schemas.users import UserCreateSchema, UserQueryArgsSchema

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Accounts (admin)")


class UserUpdateSchema(Schema):
    is_active = fields.Boolean(metadata={"description": "false ends every session at once"})


@blp.route("")
class Users(MethodView):
    @roles_required(Role.ADMIN)
    @blp.arguments(UserQueryArgsSchema, location="query")
    @blp.response(200, UserSchema(many=True))
    @blp.paginate()
    def get(self, args: dict[str, Any], pagination_parameters: PaginationParameters) -> Any:
        """List accounts."""
        query = select(User).order_by(User.user_id)
        if "role" in args:
            query = query.where(User.role == args["role"])
        return page_of(db.session, query, pagination_parameters)

    @roles_required(Role.ADMIN)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data: dict[str, Any]) -> User:
        """Create a clinician or admin account."""
        return create_user(
            db.session,
            email=data["email"],
            password=data["password"],
            role=Role(data["role"]),
            display_name=data["display_name"],
            now=utcnow(),
        )


@blp.route("/<int(max=2147483647):user_id>")
class UserById(MethodView):
    @roles_required(Role.ADMIN)
    @blp.response(200, UserSchema)
    def get(self, user_id: int) -> User:
        """Get an account."""
        return _user(user_id)

    @roles_required(Role.ADMIN)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, data: dict[str, Any], user_id: int) -> User:
        """Activate or deactivate an account."""
        user = _user(user_id)
        if "is_active" in data:
            user.is_active = data["is_active"]
        return user


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFoundError("User not found.")
    return user
