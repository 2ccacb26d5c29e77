"""Accounts, password hashing and login sessions (rotating refresh tokens)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.errors import AuthenticationError, ConflictError


class Role(StrEnum):
    """Who a user is to cartwatch; one role per account."""

    PATIENT = "patient"
    CAREGIVER = "caregiver"
    CLINICIAN = "clinician"
    ADMIN = "admin"


class User(Base):
    """A login: patient, caregiver, clinician or admin."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('patient', 'caregiver', 'clinician', 'admin')", name="role"),
    )

    user_id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class AuthSession(Base):
    """One login on one device: the family of refresh tokens that rotate from it.

    ---
    Only the newest refresh token (``refresh_jti``) is valid. Presenting an older one means a
    token was copied; the whole session is then revoked (OAuth 2.0 Security BCP, section 4.14).
    """

    __tablename__ = "auth_sessions"

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"), index=True)
    refresh_jti: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]
    refreshed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))

    def is_live(self, now: datetime) -> bool:
        """Tell whether tokens of this session may still be used at ``now``."""
        return self.revoked_at is None and now < self.expires_at


class RefreshTokenReusedError(AuthenticationError):
    """A spent refresh token came back: the session was revoked, and that must be stored."""

    keep_changes: bool = True


# argon2id with OWASP's minimum profile (m=19 MiB, t=2, p=1): a 64 MiB hash per login would
# double a worker's memory for the duration of each login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_dummy_hash: str | None = None


def configure_password_hashing(time_cost: int, memory_cost: int, parallelism: int) -> None:
    """Set the argon2id cost for this process."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _dummy_hash = None


def _dummy() -> str:
    # Verifying against a dummy hash for unknown e-mails keeps login time the same for both
    # cases; made on first use, not at import.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("cartwatch-dummy-password")
    return _dummy_hash


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def is_password_correct(password_hash: str, password: str) -> bool:
    """Check a password against its stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    """Return the form e-mails are stored and compared in."""
    return email.strip().lower()


def user_by_email(session: Session, email: str) -> User | None:
    """Find a user by e-mail address, case-insensitively."""
    return session.scalars(select(User).where(User.email == normalise_email(email))).first()


def create_user(
    session: Session, *, email: str, password: str, role: Role, display_name: str, now: datetime
) -> User:
    """Create an account; the e-mail must be new."""
    if user_by_email(session, email) is not None:
        raise ConflictError(
            "An account with this e-mail already exists.",
            {"email": ["An account with this e-mail already exists."]},
        )
    user = User(
        email=normalise_email(email),
        password_hash=hash_password(password),
        role=role.value,
        display_name=display_name.strip(),
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    """Return the active user with these credentials, or raise AuthenticationError."""
    user = user_by_email(session, email)
    if user is None:
        is_password_correct(_dummy(), password)
        raise AuthenticationError("Wrong e-mail or password.")
    if not is_password_correct(user.password_hash, password) or not user.is_active:
        raise AuthenticationError("Wrong e-mail or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_session(
    session: Session, user: User, *, now: datetime, lifetime: timedelta
) -> AuthSession:
    """Open a login session with a first refresh token id."""
    auth = AuthSession(
        session_id=str(uuid.uuid4()),
        user_id=user.user_id,
        refresh_jti=str(uuid.uuid4()),
        created_at=now,
        refreshed_at=now,
        expires_at=now + lifetime,
    )
    session.add(auth)
    session.flush()
    return auth


def rotate_session(
    session: Session, *, session_id: str, jti: str, now: datetime, lifetime: timedelta
) -> AuthSession:
    """Spend a refresh token and issue the next one of its family."""
    auth = session.get(AuthSession, session_id)
    if auth is None or not auth.is_live(now):
        raise AuthenticationError("The session has ended; log in again.")
    if auth.refresh_jti != jti:
        revoke_session(session, auth, now=now, reason="refresh_reuse")
        raise RefreshTokenReusedError("This refresh token was already used; log in again.")
    auth.refresh_jti = str(uuid.uuid4())
    auth.refreshed_at = now
    auth.expires_at = now + lifetime
    session.flush()
    return auth


def active_owner(session: Session, auth: AuthSession) -> User:
    """Return the active user a login session belongs to, or raise AuthenticationError."""
    user = session.get(User, auth.user_id)
    if user is None or not user.is_active:
        raise AuthenticationError("The account is not active.")
    return user


def revoke_session(session: Session, auth: AuthSession, *, now: datetime, reason: str) -> None:
    """End a login session: its access and refresh tokens stop working at once."""
    if auth.revoked_at is None:
        auth.revoked_at = now
        auth.revoked_reason = reason
        session.flush()


def user_with_live_session(
    session: Session, *, user_id: int, session_id: str, now: datetime
) -> User | None:
    """Load the user behind an access token if the token's session is still live."""
    row = session.execute(
        select(User, AuthSession)
        .join(AuthSession, AuthSession.user_id == User.user_id)
        .where(User.user_id == user_id, AuthSession.session_id == session_id)
    ).first()
    if row is None:
        return None
    user, auth = row
    if not user.is_active or not auth.is_live(now):
        return None
    return user


def count_users(session: Session) -> int:
    """Count accounts (used to decide whether demo data is needed)."""
    return session.scalar(select(func.count()).select_from(User)) or 0
