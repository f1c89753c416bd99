"""claude-compliance-sdk against Roster's Compliance front-end: read-only
groups and members, written through the native API and the other
front-ends and read back here, identical."""

import pytest
import requests
from claude_compliance_sdk import ComplianceClient
from claude_compliance_sdk.exceptions import BadRequestError, InvalidAPIKeyError, NotFoundError
from posit.connect import Client as PositClient


@pytest.fixture
def client(roster_url, admin_key):
    return ComplianceClient(api_key=admin_key, base_url=f"{roster_url}/compliance", rate_limit_rpm=0, max_retries=0)


def native(roster_url, admin_key, method, path, **kw):
    res = requests.request(method, f"{roster_url}/v1{path}", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10, **kw)
    res.raise_for_status()
    return res.json() if res.content else None


def test_groups_and_members_written_natively_read_back_identical(client, roster_url, admin_key, unique):
    role = native(roster_url, admin_key, "POST", "/roles", json={"name": f"auditor-{unique}"})
    g = native(roster_url, admin_key, "POST", "/groups", json={"name": f"Audit {unique}", "description": "reads logs"})
    native(roster_url, admin_key, "PUT", f"/groups/{g['id']}/roles/{role['id']}")
    users = [native(roster_url, admin_key, "POST", "/users", json={"username": f"u{i}-{unique}", "email": f"u{i}-{unique}@example.com"}) for i in range(3)]
    for u in users:
        native(roster_url, admin_key, "PUT", f"/groups/{g['id']}/members/{u['id']}", json={})

    found = [x for x in client.groups.iter() if x.name == f"Audit {unique}"]
    assert len(found) == 1
    group = found[0]
    assert group.id.startswith("rbac_group_01") and len(group.id) == len("rbac_group_01") + 22
    assert group.description == "reads logs"
    assert group.source_type == "direct"
    assert group.extra["roster_source_type"] == "api"
    assert len(group.roles) == 1 and group.roles[0].startswith("rbac_role_01")
    again = client.groups.get(group.id)
    assert again == group, "ids are stable across calls"

    members = list(client.groups.iter_members(group.id, limit=2))
    assert [m.email for m in members] == [f"u{i}-{unique}@example.com" for i in range(3)]
    assert all(m.user_id.startswith("user_01") for m in members)
    assert len({m.user_id for m in members}) == 3
    first = client.groups.list_members(group.id, limit=2)
    assert first.has_more is True and isinstance(first.next_page, str)
    last = client.groups.list_members(group.id, limit=2, page=first.next_page)
    assert [m.email for m in last.data] == [f"u2-{unique}@example.com"]
    assert last.has_more is False and last.next_page is None


def test_other_front_ends_show_up_here(client, roster_url, admin_key, unique):
    posit = PositClient(f"{roster_url}/posit", admin_key)
    pg = posit.groups.create(name=f"posit-made-{unique}")
    pu = posit.users.create(username=f"pam-{unique}", email=f"pam-{unique}@example.com")
    pg.members.add(pu)
    group = next(x for x in client.groups.iter() if x.name == f"posit-made-{unique}")
    assert group.source_type == "direct"
    assert group.extra["roster_source_type"] == "posit"
    assert group.description == "", "description is a string even when empty"
    assert [m.email for m in client.groups.iter_members(group.id)] == [f"pam-{unique}@example.com"]
    # A user without an email still has a string.
    bare = native(roster_url, admin_key, "POST", "/users", json={"username": f"bare-{unique}"})
    native(roster_url, admin_key, "PUT", f"/groups/{pg['guid']}/members/{bare['id']}", json={})
    assert [m.email for m in client.groups.iter_members(group.id)][-1] == ""


def test_group_pages_return_every_group_once(client, roster_url, admin_key, unique):
    for i in range(7):
        native(roster_url, admin_key, "POST", "/groups", json={"name": f"pg-{unique}-{i}"})
    everything = [g.id for g in client.groups.iter(limit=3)]
    assert len(everything) == len(set(everything))
    mine = [g.name for g in client.groups.iter(limit=3) if g.name.startswith(f"pg-{unique}-")]
    assert mine == [f"pg-{unique}-{i}" for i in range(7)]
    one_page = client.groups.list(limit=1000)
    assert [g.id for g in one_page.data] == everything[: len(one_page.data)]


def test_empty_group_and_errors(client, roster_url, admin_key, unique):
    g = native(roster_url, admin_key, "POST", "/groups", json={"name": f"empty-{unique}"})
    tagged = next(x.id for x in client.groups.iter() if x.name == f"empty-{unique}")
    page = client.groups.list_members(tagged)
    assert page.data == [] and page.has_more is False and page.next_page is None
    with pytest.raises(NotFoundError) as err:
        client.groups.get("rbac_group_01" + "0" * 22)
    assert err.value.error_type == "not_found_error"
    with pytest.raises(NotFoundError):
        client.groups.list_members("not-a-group-id")
    with pytest.raises(BadRequestError) as err:
        client.groups.list(limit=0)
    assert err.value.error_type == "invalid_request_error"
    with pytest.raises(BadRequestError):
        client.groups.list(limit=1001)
    with pytest.raises(BadRequestError):
        client.groups.list(page="garbage-token")
    with pytest.raises(BadRequestError):
        client.groups.list_members(tagged, page=client.groups.list(limit=1).next_page)
    bad = ComplianceClient(api_key="rst_not_a_key", base_url=f"{roster_url}/compliance", rate_limit_rpm=0, max_retries=0)
    with pytest.raises(InvalidAPIKeyError):
        bad.groups.list()
    assert g["name"] == f"empty-{unique}"
