"""The backend's PostgreSQL models at the seed's commit.

The first eight tables have revisions (bb39e1c49e2d, 66e0e5d9662d, add_deleted_at_001). The last three,
``Subscription``, ``CreditTransaction`` and ``AgentExecution``, were added in this commit with no
revision creating them: `alembic upgrade head` stays a no-op and the service's start-up fails with
"Failed to create tables: {'subscriptions', 'credit_transactions', 'agent_executions'}".
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import JSON, Column, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from netra_backend.app.db.base import Base


class User(Base):
    __tablename__ = "userbase"
    id = Column(String, primary_key=True)
    email = Column(String, nullable=False, unique=True, index=True)
    full_name = Column(String)
    created_at = Column(DateTime(timezone=True), server_default=sa.func.now())
    plan_tier = Column(String)


class Assistant(Base):
    __tablename__ = "assistants"
    id = Column(String, primary_key=True)
    name = Column(String)
    model = Column(String, nullable=False)


class Thread(Base):
    __tablename__ = "threads"
    id = Column(String, primary_key=True)
    user_id = Column(String, ForeignKey("userbase.id"))
    created_at = Column(DateTime(timezone=True), server_default=sa.func.now())
    deleted_at = Column(DateTime(timezone=True), index=True)
    messages = relationship("Message", back_populates="thread")


class Message(Base):
    __tablename__ = "messages"
    id = Column(String, primary_key=True)
    thread_id = Column(String, ForeignKey("threads.id"), nullable=False)
    role = Column(String, nullable=False)
    content = Column(JSON, nullable=False)
    thread = relationship("Thread", back_populates="messages")


class Run(Base):
    __tablename__ = "runs"
    id = Column(String, primary_key=True)
    thread_id = Column(String, ForeignKey("threads.id"), nullable=False)
    assistant_id = Column(String, ForeignKey("assistants.id"), nullable=False)
    status = Column(String, nullable=False)
    completed_at = Column(DateTime(timezone=True))


class AgentStateSnapshot(Base):
    __tablename__ = "agent_state_snapshots"
    id = Column(String, primary_key=True)
    run_id = Column(String, nullable=False, index=True)
    thread_id = Column(String, nullable=False)
    user_id = Column(String, ForeignKey("userbase.id"), nullable=False)
    state_data = Column(JSON, nullable=False)


class CorpusAuditLog(Base):
    __tablename__ = "corpus_audit_logs"
    id = Column(String, primary_key=True)
    timestamp = Column(DateTime(timezone=True))
    user_id = Column(String)
    action = Column(String, nullable=False)


class MCPExternalServer(Base):
    __tablename__ = "mcp_external_servers"
    id = Column(String, primary_key=True)
    name = Column(String(255), nullable=False, unique=True)
    url = Column(Text, nullable=False)
    transport = Column(String(20), nullable=False)


# --- added in this commit, with no Alembic revision ------------------------------------------------


class Subscription(Base):
    __tablename__ = "subscriptions"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("userbase.id"))
    tier: Mapped[str]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreditTransaction(Base):
    __tablename__ = "credit_transactions"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("userbase.id"))
    amount: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgentExecution(Base):
    __tablename__ = "agent_executions"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    status: Mapped[str]
    duration_ms: Mapped[int | None]
