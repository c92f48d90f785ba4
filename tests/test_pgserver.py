"""The throwaway server: real auth for non-superusers, cleaned up on stop."""

from __future__ import annotations

import psycopg
import pytest


def test_role_logs_in_with_its_password_and_not_without(pg):
    role = pg.role("app", "right-pw-123")
    with psycopg.connect(pg.dsn(role, "right-pw-123")) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == role
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg.dsn(role, "wrong-pw"))


def test_stop_removes_everything():
    from netra_doctor.demo.pgserver import start

    server = start()
    root = server.root
    assert (root / "data" / "postmaster.pid").exists()
    server.stop()
    assert not root.exists()
