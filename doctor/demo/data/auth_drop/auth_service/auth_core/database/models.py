"""The auth service's tables: it creates them itself (create_all at start-up), on the shared database."""

from sqlalchemy import Column, DateTime, ForeignKey, String
from sqlalchemy.orm import declarative_base

AuthBase = declarative_base()


class AuthUser(AuthBase):
    __tablename__ = "auth_users"
    id = Column(String, primary_key=True)
    email = Column(String, nullable=False, unique=True)


class AuthToken(AuthBase):
    __tablename__ = "auth_tokens"
    id = Column(String, primary_key=True)
    user_id = Column(String, ForeignKey("auth_users.id"), nullable=False)


class AuthSession(AuthBase):
    __tablename__ = "auth_sessions"
    id = Column(String, primary_key=True)
    user_id = Column(String, ForeignKey("auth_users.id"), nullable=False)
    expires_at = Column(DateTime(timezone=True))


class AuthAuditLog(AuthBase):
    __tablename__ = "auth_audit_logs"
    id = Column(String, primary_key=True)
    event = Column(String, nullable=False)
