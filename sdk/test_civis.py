"""civis against Roster's Civis front-end: the SDK builds itself from the
document Roster serves at /civis/endpoints, then drives every groups and
users method it documents."""

import inspect

import civis
import pytest
import requests
from civis.base import CivisAPIError, CivisAPIKeyError
from posit.connect import Client as PositClient


@pytest.fixture
def client(roster_url, admin_key, monkeypatch):
    monkeypatch.setenv("CIVIS_API_ENDPOINT", f"{roster_url}/civis/")
    # force_refresh: the SDK caches the generated classes per key in-process.
    return civis.APIClient(api_key=admin_key, force_refresh_api_spec=True)


def native(roster_url, admin_key, method, path, **kw):
    res = requests.request(method, f"{roster_url}/v1{path}", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10, **kw)
    res.raise_for_status()
    return res.json() if res.content else None


def test_generated_methods_have_the_documented_signatures(client):
    for name in ["list", "post", "get", "put", "patch", "delete", "put_members", "delete_members", "get_child_groups",
                 "list_shares", "put_shares_users", "put_shares_groups", "delete_shares_users", "delete_shares_groups"]:
        assert hasattr(client.groups, name), name
    for name in ["list", "post", "get", "get_me"]:
        assert hasattr(client.users, name), name
    assert list(inspect.signature(client.users.post).parameters)[:4] == ["name", "email", "primary_group_id", "user"]
    assert list(inspect.signature(client.groups.put_shares_users).parameters)[:3] == ["id", "user_ids", "permission_level"]
    assert list(inspect.signature(client.groups.post).parameters)[0] == "name"


def test_group_lifecycle_and_fields(client, roster_url, admin_key, unique):
    role = native(roster_url, admin_key, "POST", "/roles", json={"name": f"analyst-{unique}"})
    g = client.groups.post(f"Data {unique}", description="models", default_time_zone="UTC", default_otp_required_for_login=True)
    assert g.name == f"Data {unique}"
    assert g.slug == f"data-{unique}"
    assert g.organization_name == "Default"
    assert g.default_time_zone == "UTC"
    assert g.default_otp_required_for_login is True
    assert g.member_count == 0 and g.total_member_count == 0
    me = client.users.get_me()
    assert g.created_by_id == me.id
    assert client.groups.get(g.id).name == g.name

    patched = client.groups.patch(g.id, default_jobs_label="etl")
    assert patched.default_jobs_label == "etl"
    assert patched.default_time_zone == "UTC", "patch keeps what it was not given"
    # Role ids: the native API grants a role; Civis names it by number.
    guid = native(roster_url, admin_key, "GET", f"/groups?q=data {unique}")["items"][0]["id"]
    native(roster_url, admin_key, "PUT", f"/groups/{guid}/roles/{role['id']}")
    role_nums = client.groups.get(g.id).role_ids
    assert len(role_nums) == 1 and isinstance(role_nums[0], int)
    assert client.groups.patch(g.id, role_ids=role_nums).role_ids == role_nums
    assert client.groups.patch(g.id, role_ids=[]).role_ids == []
    assert native(roster_url, admin_key, "GET", f"/groups/{guid}/roles") == []
    with pytest.raises(CivisAPIError) as err:
        client.groups.patch(g.id, role_ids=[987654])
    assert err.value.status_code == 400

    replaced = client.groups.put(g.id, f"Data {unique} v2")
    assert replaced.name == f"Data {unique} v2"
    assert replaced.description is None, "put replaces every attribute"
    assert replaced.default_time_zone is None
    assert replaced.default_otp_required_for_login is False

    client.groups.delete(g.id)
    with pytest.raises(CivisAPIError) as err:
        client.groups.get(g.id)
    assert err.value.status_code == 404


def test_members_and_counts(client, unique):
    g = client.groups.post(f"team-{unique}")
    home = client.groups.post(f"home-{unique}")
    ann = client.users.post("Ann Lee", f"ann-{unique}@example.com", home.id, f"ann-{unique}")
    bob = client.users.post("Bob Ray", f"bob-{unique}@example.com", home.id, f"bob-{unique}", active=False)
    assert ann.primary_group_id == home.id
    assert [x.id for x in ann.groups] == [home.id]
    after = client.groups.put_members(g.id, ann.id)
    assert after.member_count == 1
    assert [m.username for m in after.members] == [f"ann-{unique}"]
    assert after.members[0].email == f"ann-{unique}@example.com"
    assert after.members[0].primary_group_id == home.id
    assert after.members[0].initials == "AL"
    client.groups.put_members(g.id, ann.id)  # idempotent
    after = client.groups.put_members(g.id, bob.id)
    assert after.total_member_count == 2
    assert after.member_count == 1, "memberCount counts active users only"
    client.groups.delete_members(g.id, ann.id)
    assert client.groups.get(g.id).total_member_count == 1
    with pytest.raises(CivisAPIError) as err:
        client.groups.delete_members(g.id, ann.id)
    assert err.value.status_code == 404


def test_list_filters_orders_and_pages(client, unique):
    made = [client.groups.post(f"page-{unique}-{i:02d}") for i in range(7)]
    listed = client.groups.list(query=f"page-{unique}", limit=3, page_num=1)
    assert [g.name for g in listed] == [f"page-{unique}-00", f"page-{unique}-01", f"page-{unique}-02"]
    assert listed.headers["X-Pagination-Total-Entries"] == "7"
    assert client.groups.list(query=f"page-{unique}", limit=3, page_num=9) == []
    every = list(client.groups.list(query=f"PAGE-{unique}", limit=2, iterator=True))
    assert [g.id for g in every] == [g.id for g in made]
    newest = client.groups.list(query=f"page-{unique}", order="created_at", order_dir="desc", limit=1)
    assert newest[0].id == made[-1].id
    home = client.groups.post(f"h-{unique}")
    u = client.users.post("Cy Dee", f"cy-{unique}@example.com", home.id, f"cy-{unique}")
    client.groups.put_members(made[3].id, u.id)
    mine = client.groups.list(user_ids=[u.id], include_members=True)
    assert sorted(g.id for g in mine) == sorted([home.id, made[3].id])
    assert all(any(m.username == f"cy-{unique}" for m in g.members) for g in mine)
    assert client.groups.list(organization_id=1, query=f"page-{unique}-00")[0].id == made[0].id
    assert client.groups.list(organization_id=999999) == []


def test_shares_and_child_groups(client, unique):
    target = client.groups.post(f"target-{unique}")
    team = client.groups.post(f"team-{unique}")
    home = client.groups.post(f"home-{unique}")
    dee = client.users.post("Dee Eff", f"dee-{unique}@example.com", home.id, f"dee-{unique}")
    index = client.groups.put_shares_users(target.id, [dee.id], "read")
    assert [u.id for u in index.readers.users] == [dee.id]
    assert index.total_user_shares == 1
    index = client.groups.put_shares_groups(target.id, [team.id], "write")
    assert [g.id for g in index.writers.groups] == [team.id]
    assert index.total_group_shares == 1
    shares = client.groups.list_shares(target.id)
    assert len(shares) == 1 and shares[0].total_user_shares == 1
    children = client.groups.get_child_groups(team.id)
    assert [g.id for g in children.writeable] == [target.id]
    assert children.manageable == [] and children.readable == []
    client.groups.put_shares_users(target.id, [dee.id], "manage")
    assert [u.id for u in client.groups.list_shares(target.id)[0].owners.users] == [dee.id]
    client.groups.delete_shares_users(target.id, dee.id)
    client.groups.delete_shares_groups(target.id, team.id)
    after = client.groups.list_shares(target.id)[0]
    assert after.total_user_shares == 0 and after.total_group_shares == 0
    with pytest.raises(CivisAPIError) as err:
        client.groups.put_shares_users(target.id, [dee.id], "owner")
    assert err.value.status_code == 400


def test_users(client, unique):
    home = client.groups.post(f"users-{unique}")
    extra = client.groups.post(f"extra-{unique}")
    u = client.users.post("Eve Gee", f"eve-{unique}@example.com", home.id, f"eve-{unique}",
                          group_ids=[extra.id], city="Oslo", title="Analyst", robot=False)
    assert u.user == f"eve-{unique}"
    assert u.name == "Eve Gee"
    assert u.city == "Oslo" and u.title == "Analyst"
    assert sorted(x.id for x in u.groups) == sorted([home.id, extra.id])
    assert u.account_status == "Active"
    got = client.users.get(u.id)
    assert got.email == f"eve-{unique}@example.com"
    client.users.post("Fay Hu", f"fay-{unique}@example.com", home.id, f"fay-{unique}", active=False)
    active = client.users.list(group_id=home.id)
    assert [x.user for x in active] == [f"eve-{unique}"], "inactive users are hidden by default"
    everyone = client.users.list(group_id=home.id, account_status="all")
    assert sorted(x.user for x in everyone) == sorted([f"eve-{unique}", f"fay-{unique}"])
    assert [x.user for x in client.users.list(group_ids=[home.id], account_status="inactive")] == [f"fay-{unique}"]
    assert [x.user for x in client.users.list(query=f"EVE-{unique}")] == [f"eve-{unique}"]
    assert f"eve-{unique}" in [x.user for x in client.users.list(query="eve gee")], "a piece of the name"
    both = [x.user for x in client.users.list(group_id=home.id, account_status="all", order_dir="desc")]
    assert both == [f"fay-{unique}", f"eve-{unique}"]
    with pytest.raises(CivisAPIError) as err:
        client.users.post("Dup", f"dup-{unique}@example.com", home.id, f"EVE-{unique}")
    assert err.value.status_code == 409
    with pytest.raises(CivisAPIError) as err:
        client.users.post("Nobody", f"n-{unique}@example.com", 987654321, f"n-{unique}")
    assert err.value.status_code in (400, 404)


def test_errors(client, roster_url, admin_key, monkeypatch, unique):
    with pytest.raises(CivisAPIError) as err:
        client.groups.get(987654321)
    assert err.value.status_code == 404
    assert "could not be found" in err.value.error_message
    client.groups.post(f"dupe-{unique}")
    with pytest.raises(CivisAPIError) as err:
        client.groups.post(f"DUPE-{unique}")
    assert err.value.status_code == 409
    with pytest.raises(CivisAPIError) as err:
        client.groups.list(limit=5000)
    assert err.value.status_code == 400
    assert "limit" in err.value.error_message
    monkeypatch.setenv("CIVIS_API_ENDPOINT", f"{roster_url}/civis/")
    with pytest.raises(requests.HTTPError):
        civis.APIClient(api_key="rst_not_a_key", force_refresh_api_spec=True)
    res = requests.get(f"{roster_url}/civis/groups", auth=("rst_not_a_key", ""), timeout=10)
    assert res.status_code == 401
    assert "www-authenticate" in res.headers
    assert res.json()["error"] == "unauthorized"
    # A key revoked after the client was built: the SDK's own key error.
    home = client.groups.post(f"keys-{unique}")
    owner = client.users.post("Ike Jo", f"ike-{unique}@example.com", home.id, f"ike-{unique}")
    guid = native(roster_url, admin_key, "GET", f"/users?q=ike-{unique}")["items"][0]["id"]
    made = native(roster_url, admin_key, "POST", "/keys", json={"user_id": guid, "name": "civis"})
    theirs = civis.APIClient(api_key=made["key"], force_refresh_api_spec=True)
    assert theirs.users.get_me().id == owner.id
    native(roster_url, admin_key, "DELETE", f"/keys/{made['id']}")
    with pytest.raises(CivisAPIKeyError):
        theirs.groups.list()


def test_cross_front_end_truth(client, roster_url, admin_key, unique):
    posit = PositClient(f"{roster_url}/posit", admin_key)
    # Made through Posit, seen through Civis and the native API.
    pg = posit.groups.create(name=f"cross-{unique}")
    pu = posit.users.create(username=f"gil-{unique}", email=f"gil-{unique}@example.com")
    pg.members.add(pu)
    civis_group = client.groups.list(query=f"cross-{unique}", include_members=True)[0]
    assert [m.username for m in civis_group.members] == [f"gil-{unique}"]
    members = native(roster_url, admin_key, "GET", f"/groups/{pg['guid']}/members")
    assert [m["user"]["username"] for m in members["items"]] == [f"gil-{unique}"]
    # Made through Civis, seen through Posit.
    cg = client.groups.post(f"civis-made-{unique}")
    cu = client.users.post("Hal Ito", f"hal-{unique}@example.com", cg.id, f"hal-{unique}")
    found = posit.groups.find_one(prefix=f"civis-made-{unique}")
    assert [m["username"] for m in found.members.find()] == [f"hal-{unique}"]
    assert cu.primary_group_id == cg.id
    # Made through the native API, seen through Posit and Civis.
    ng = native(roster_url, admin_key, "POST", "/groups", json={"name": f"native-{unique}"})
    nu = native(roster_url, admin_key, "POST", "/users", json={"username": f"ivy-{unique}"})
    native(roster_url, admin_key, "PUT", f"/groups/{ng['id']}/members/{nu['id']}", json={})
    assert [m["guid"] for m in posit.groups.get(ng["id"]).members.find()] == [nu["id"]]
    seen = client.groups.list(query=f"native-{unique}", include_members=True)[0]
    assert [m.username for m in seen.members] == [f"ivy-{unique}"]
