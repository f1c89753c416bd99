"""igz-mgmt against Roster's Iguazio front-end: user groups, users, the
all_users system group, membership written through the user resource
(primary-group protection, stale writes refused), projects with their three
roles, and jobs; what Iguazio writes is read back through the native API."""

import httpx
import igz_mgmt
import pytest
from igz_mgmt.constants import ProjectAuthorizationRoles as Roles
from igz_mgmt.cruds import ResourceListPagingQueryParams
from igz_mgmt.exceptions import ResourceNotFoundException, UserIsInPrimaryGroupError


def make_client(roster_url, key, **kw):
    return igz_mgmt.Client(endpoint=f"{roster_url}/iguazio", access_key=key, **kw)


@pytest.fixture(scope="module")
def client(roster_url, admin_key):
    return make_client(roster_url, admin_key)


@pytest.fixture
def native(roster_url, admin_key):
    with httpx.Client(base_url=roster_url, headers={"Authorization": f"Bearer {admin_key}"}) as c:
        yield c


def new_user(client, name, unique, **kw):
    return igz_mgmt.User.create(client, f"{name}-{unique}", f"{name}-{unique}@example.com", name.title(), "Tester", **kw)


def member_ids(client, group):
    got = igz_mgmt.Group.get(client, group.id, include=["users"])
    return {u["id"] for u in got.relationships["users"]["data"]}


def test_client_construction_checks_the_session(client, roster_url, admin_key):
    assert str(client.version) == "3.6.0", "the version probe succeeded"
    assert client.username == "admin"
    assert client.tenant_id
    basic = make_client(roster_url, admin_key, username="admin")
    assert basic.username == "admin"
    with pytest.raises(httpx.HTTPStatusError) as err:
        make_client(roster_url, "not-a-key-at-all")
    assert err.value.response.status_code == 401
    assert igz_mgmt.User.self(client).username == "admin"


def test_groups_crud_list_and_lookup(client, unique):
    g = igz_mgmt.Group.create(client, f"eng-{unique}", description="Engineers")
    assert g.name == f"eng-{unique}" and g.gid > 0 and g.kind == "local"
    assert g.assigned_policies == ["Data", "Application Admin"], "the SDK's defaults round-trip"
    gid = 1000 + int(unique, 16) % 60000
    chosen = igz_mgmt.Group.create(client, f"ops-{unique}", gid=gid, assigned_policies=["Developer"])
    assert chosen.gid == gid and chosen.assigned_policies == ["Developer"]
    assert igz_mgmt.Group.get(client, g.id).description == "Engineers"
    assert igz_mgmt.Group.get_by_name(client, f"eng-{unique}").id == g.id
    with pytest.raises(ResourceNotFoundException):
        igz_mgmt.Group.get_by_name(client, f"nobody-{unique}")
    with pytest.raises(ResourceNotFoundException):
        igz_mgmt.Group.get(client, "0191e0e4-5b5c-7d3e-8a4f-000000000000")
    listed = igz_mgmt.Group.list(client, filter_by={"name": f"ops-{unique}"})
    assert [x.id for x in listed] == [chosen.id]
    assert chosen.id in [x.id for x in igz_mgmt.Group.list(client, filter_by={"gid": str(gid)})]
    names = [x.name for x in igz_mgmt.Group.list(client, sort_by=["-name"])]
    assert names == sorted(names, reverse=True) and "all_users" in names
    page = igz_mgmt.Group.list(client, sort_by=["name"], paging=ResourceListPagingQueryParams(number=0, size=1))
    assert len(page) == 1
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Group.create(client, f"ENG-{unique}")
    assert err.value.response.status_code == 409, "names are unique ignoring case"
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Group.create(client, None)
    assert err.value.response.status_code == 400
    assert "name" in str(err.value)
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Group.create(client, f"bad-{unique}", assigned_policies=["Overlord"])
    assert err.value.response.status_code == 400
    g.description = "Platform engineers"
    g.update(client)
    assert igz_mgmt.Group.get(client, g.id).description == "Platform engineers"


def test_all_users_is_a_system_group(client, unique):
    u = new_user(client, "ann", unique)
    au = igz_mgmt.Group.get_by_name(client, "all_users", include=["users"])
    assert au.system_provided
    assert u.id in {x["id"] for x in au.relationships["users"]["data"]}
    assert u.in_group(client, au), "User.create waited for all_users and returned at once"
    with pytest.raises(httpx.HTTPStatusError) as err:
        au.delete(client)
    assert err.value.response.status_code == 403
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Group.create(client, "all_users")
    assert err.value.response.status_code == 409
    au.remove_user(client, u.id)
    assert u.in_group(client, au), "nobody leaves all_users"


def test_membership_through_the_sdk(client, unique, native):
    g = igz_mgmt.Group.create(client, f"team-{unique}")
    bob = new_user(client, "bob", unique)
    carl = new_user(client, "carl", unique)
    g.add_user(client, bob.id)
    g.add_user(client, f"carl-{unique}")
    g.add_user(client, bob)
    assert member_ids(client, g) == {bob.id, carl.id}, "added by id, by username; adding twice is a no-op"
    assert bob.in_group(client, g)
    g.remove_user(client, carl.id)
    assert member_ids(client, g) == {bob.id}
    assert not carl.in_group(client, g)
    listed = igz_mgmt.Group.list(client, filter_by={"name": f"team-{unique}"}, include=["users"])
    assert {x["id"] for x in listed[0].relationships["users"]["data"]} == {bob.id}
    # Native API: the same membership.
    members = native.get(f"/v1/groups/{g.id}/members").json()["items"]
    assert [m["user"]["username"] for m in members] == [f"bob-{unique}"]
    assert native.get(f"/v1/groups/{g.id}").json()["source_type"] == "iguazio"


def test_primary_group_needs_force(client, unique):
    home = igz_mgmt.Group.create(client, f"home-{unique}")
    extra = igz_mgmt.Group.create(client, f"extra-{unique}")
    dan = new_user(client, "dan", unique, primary_group=home, groups=[extra.id])
    assert dan.get_primary_group(client).id == home.id
    assert dan.in_group(client, home) and dan.in_group(client, extra)
    with pytest.raises(UserIsInPrimaryGroupError):
        home.remove_user(client, dan.id)
    assert dan.in_group(client, home)
    home.remove_user(client, dan.id, force=True)
    assert not dan.in_group(client, home)
    assert dan.get_primary_group(client) is None
    assert dan.in_group(client, extra), "the other group is untouched"
    dan.set_primary_group(client, extra)
    assert dan.get_primary_group(client).id == extra.id
    # Deleting the primary group clears it.
    extra.delete(client)
    assert dan.get_primary_group(client) is None


def test_a_stale_group_list_is_refused(client, unique):
    g1 = igz_mgmt.Group.create(client, f"s1-{unique}")
    g2 = igz_mgmt.Group.create(client, f"s2-{unique}")
    eve = new_user(client, "eve", unique)
    stale = igz_mgmt.User.get(client, eve.id, include=["user_groups"])
    g1.add_user(client, eve.id)  # someone else adds a membership meanwhile
    stale.relationships["user_groups"]["data"].append({"id": g2.id, "type": "user_group"})
    with pytest.raises(httpx.HTTPStatusError) as err:
        stale.update(client, relationships=stale.relationships)
    assert err.value.response.status_code == 409
    assert eve.in_group(client, g1), "the membership added meanwhile survives"
    assert not eve.in_group(client, g2), "nothing of the refused write was applied"
    g2.add_user(client, eve.id)  # a fresh read goes through
    assert eve.in_group(client, g1) and eve.in_group(client, g2)


def test_users_crud(client, unique):
    fay = new_user(client, "fay", unique, job_title="Analyst", department="Data", uid=5001, assigned_policies=["Developer"])
    assert fay.uid == 5001 and fay.job_title == "Analyst" and fay.operational_status == "up"
    assert igz_mgmt.User.get_by_username(client, f"fay-{unique}").id == fay.id
    assert [u.id for u in igz_mgmt.User.list(client, filter_by={"username": f"fay-{unique}"})] == [fay.id]
    assert igz_mgmt.User.list(client, filter_by={"department": "Data"})
    fay.job_title = "Lead"
    fay.update(client)
    assert igz_mgmt.User.get(client, fay.id).job_title == "Lead"
    fay.disable(client)
    assert igz_mgmt.User.get(client, fay.id).admin_status == "down"
    fay.enable(client)
    assert igz_mgmt.User.get(client, fay.id).admin_status == "up"
    with pytest.raises(httpx.HTTPStatusError) as err:
        new_user(client, "fay", unique)
    assert err.value.response.status_code == 409
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.User.create(client, f"gil-{unique}", "x@example.com", "G", "I", groups=["0191e0e4-5b5c-7d3e-8a4f-000000000000"])
    assert err.value.response.status_code == 404, "an unknown group"
    job = fay.delete(client)
    assert job.state == "completed"
    assert igz_mgmt.Job.get(client, job.id).state == "completed"
    with pytest.raises(ResourceNotFoundException):
        igz_mgmt.User.get(client, fay.id)


def test_group_delete_and_ignore_missing(client, unique):
    g = igz_mgmt.Group.create(client, f"gone-{unique}")
    job = g.delete(client)
    assert job.state == "completed" and job.kind == "user_group.delete"
    with pytest.raises(ResourceNotFoundException):
        igz_mgmt.Group.get(client, g.id)
    assert g.delete(client, ignore_missing=True) is None, "deleting what is gone succeeds"
    with pytest.raises(httpx.HTTPStatusError) as err:
        g.delete(client)
    assert err.value.response.status_code == 404


def test_projects_and_roles(client, unique, native):
    owner = new_user(client, "olga", unique)
    p = igz_mgmt.Project.create(
        client, f"proj-{unique}", description="Atlas", labels=[{"name": "tier", "value": "gold"}], owner=owner
    )
    assert p.name == f"proj-{unique}" and p.labels == [{"name": "tier", "value": "gold"}]
    assert igz_mgmt.Project.get_by_name(client, f"proj-{unique}").id == p.id
    assert p.get_owner(client).id == owner.id
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Project.create(client, f"proj-{unique}")
    assert err.value.response.status_code == 409
    g = igz_mgmt.Group.create(client, f"devs-{unique}")
    g.ensure_project_membership(client, f"proj-{unique}", Roles.admin)
    g.ensure_project_membership(client, f"proj-{unique}", Roles.editor)
    g.ensure_project_membership(client, f"proj-{unique}", Roles.editor)
    owner.ensure_project_membership(client, f"proj-{unique}", Roles.viewer)
    p = igz_mgmt.Project.get_by_name(client, f"proj-{unique}")
    assert [x.id for x in p.get_editor_groups()] == [g.id], "held once, in one role"
    assert p.get_admin_groups() == [] and p.get_viewer_groups() == []
    assert [x.id for x in p.get_viewer_users()] == [owner.id]
    bindings = native.get(f"/v1/projects/{p.id}/bindings").json()["items"]
    assert sorted((b["group_id"] or b["user_id"], b["role"]) for b in bindings) == sorted(
        [(g.id, "editor"), (owner.id, "viewer")]
    ), "the native API shows the same bindings"
    g.add_user(client, owner.id)
    assert owner.get_project_effective_role(client, f"proj-{unique}") == "Editor", "through the group"
    g.remove_from_project(client, f"proj-{unique}")
    g.remove_from_project(client, f"proj-{unique}")
    p = igz_mgmt.Project.get_by_name(client, f"proj-{unique}")
    assert p.get_editor_groups() == []
    p.description = "Atlas v2"
    p.update(client)
    assert igz_mgmt.Project.get(client, p.id).description == "Atlas v2"
    job = p.delete(client)
    assert job.state == "completed"
    with pytest.raises(ResourceNotFoundException):
        igz_mgmt.Project.get_by_name(client, f"proj-{unique}")


def test_a_member_sees_what_the_core_allows(client, roster_url, native, unique):
    g = igz_mgmt.Group.create(client, f"club-{unique}")
    hal = new_user(client, "hal", unique)
    g.add_user(client, hal.id)
    key = native.post("/v1/keys", json={"user_id": hal.id, "name": "igz"}).json()["key"]
    as_hal = make_client(roster_url, key)
    assert as_hal.username == f"hal-{unique}"
    assert igz_mgmt.Group.get(as_hal, g.id).name == f"club-{unique}"
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Group.create(as_hal, f"mine-{unique}")
    assert err.value.response.status_code == 403
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Group.get(as_hal, g.id).delete(as_hal)
    assert err.value.response.status_code == 403


def test_access_keys(client, roster_url, unique):
    key = igz_mgmt.AccessKey.create(client, label=f"ci-{unique}")
    assert key.label == f"ci-{unique}" and key.tenant_id == client.tenant_id
    with_key = make_client(roster_url, key.id)
    assert with_key.username == "admin", "the new key's id is the key"
    assert igz_mgmt.AccessKey.get(client, key.id).label == f"ci-{unique}"
    again = igz_mgmt.AccessKey.get_or_create(with_key, label=f"ci-{unique}")
    assert again.id == key.id, "the key in use is returned, not a new one"
    other = igz_mgmt.AccessKey.get_or_create(with_key, label=f"other-{unique}")
    assert other.id != key.id and make_client(roster_url, other.id).username == "admin"
    assert f"ci-{unique}" in [k.label for k in igz_mgmt.AccessKey.list(client)]
    igz_mgmt.AccessKey.get(client, other.id).delete(client)
    with pytest.raises(httpx.HTTPStatusError) as err:
        make_client(roster_url, other.id)
    assert err.value.response.status_code == 401


def test_group_created_with_users_and_passwords_never_shown(client, roster_url, admin_key, unique):
    a = new_user(client, "ida", unique, password="Correct-Horse-9")
    b = new_user(client, "jon", unique)
    g = igz_mgmt.Group.create(client, f"seeded-{unique}", users=[a, b.id])
    assert member_ids(client, g) == {a.id, b.id}, "users given at creation are members, in one step"
    assert igz_mgmt.User.get(client, a.id).password is None
    raw = httpx.get(
        f"{roster_url}/iguazio/api/users/{a.id}", headers={"Authorization": f"Bearer {admin_key}"}
    ).json()
    assert "password" not in raw["data"]["attributes"]
    with pytest.raises(httpx.HTTPStatusError) as err:
        igz_mgmt.Group.create(client, f"ghosts-{unique}", users=["0191e0e4-5b5c-7d3e-8a4f-000000000000"])
    assert err.value.response.status_code == 404
    assert not igz_mgmt.Group.list(client, filter_by={"name": f"ghosts-{unique}"}), "nothing half-written"
    with pytest.raises(httpx.HTTPStatusError) as err:
        new_user(client, "kim", unique, primary_group="0191e0e4-5b5c-7d3e-8a4f-000000000000")
    assert err.value.response.status_code == 404
