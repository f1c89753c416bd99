"""Shared fixtures: the Roster under test is started by the Rust harness
(crates/roster/tests/it/sdk.rs), which passes its address and an admin key
in the environment."""

import os
import uuid

import pytest


@pytest.fixture(scope="session")
def roster_url() -> str:
    return os.environ["ROSTER_URL"].rstrip("/")


@pytest.fixture(scope="session")
def admin_key() -> str:
    return os.environ["ROSTER_ADMIN_KEY"]


@pytest.fixture
def unique() -> str:
    """A short suffix that keeps names of one test apart from another's."""
    return uuid.uuid4().hex[:8]
