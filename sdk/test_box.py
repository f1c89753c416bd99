"""box-sdk-gen against Roster's Box front-end: group memberships, groups
and users through the unmodified SDK, and what Box writes read back
through Compliance."""

import pytest
from box_sdk_gen import BaseUrls, BoxAPIError, BoxClient, BoxDeveloperTokenAuth, BoxSDKError, NetworkSession
from box_sdk_gen.managers.memberships import (
    CreateGroupMembershipGroup,
    CreateGroupMembershipRole,
    CreateGroupMembershipUser,
    UpdateGroupMembershipByIdRole,
)
from box_sdk_gen.internal.null_value import NullValue
from claude_compliance_sdk import ComplianceClient


def make_client(roster_url, key):
    session = NetworkSession(base_urls=BaseUrls(base_url=f"{roster_url}/box"))
    return BoxClient(auth=BoxDeveloperTokenAuth(token=key), network_session=session)


@pytest.fixture
def client(roster_url, admin_key):
    return make_client(roster_url, admin_key)


def status(err):
    return err.value.response_info.status_code


def new_user(client, name, unique):
    first = name.split()[0].lower()
    return client.users.create_user(name, login=f"{first}-{unique}@example.com")


def test_users_crud(client, unique):
    u = client.users.create_user(f"Ann Lee {unique}", login=f"ann-{unique}@example.com", job_title="Analyst", role="coadmin")
    assert u.type == "user" and u.id.isdigit()
    assert u.login == f"ann-{unique}@example.com"
    assert u.job_title == "Analyst"
    assert u.role == "coadmin"
    got = client.users.get_user_by_id(u.id)
    assert got.name == f"Ann Lee {unique}" and got.enterprise.name == "Default"
    assert [x.id for x in client.users.get_users(filter_term=f"ANN-{unique}").entries] == [u.id]
    assert [x.id for x in client.users.get_users(filter_term=f"ann lee {unique}").entries] == [u.id], "prefix of the name"
    mini = client.users.get_user_by_id(u.id, fields=["job_title"])
    assert mini.job_title == "Analyst" and mini.phone is None
    updated = client.users.update_user_by_id(u.id, job_title="Lead", status="inactive")
    assert updated.job_title == "Lead" and updated.status == "inactive"
    with pytest.raises(BoxAPIError) as err:
        client.users.create_user("Dup", login=f"ANN-{unique}@example.com")
    assert status(err) == 409
    app = client.users.create_user(f"Robot {unique}", is_platform_access_only=True, external_app_user_id=f"ext-{unique}")
    assert client.users.get_users(external_app_user_id=f"ext-{unique}").entries[0].id == app.id
    with pytest.raises(BoxAPIError) as err:
        client.users.create_user(f"No Login {unique}")
    assert status(err) == 400
    client.users.delete_user_by_id(app.id, notify=False, force=True)
    with pytest.raises(BoxAPIError) as err:
        client.users.get_user_by_id(app.id)
    assert status(err) == 404
    assert client.users.get_user_me().login is not None


def test_groups_crud(client, unique):
    g = client.groups.create_group(f"Eng {unique}", description="builders", provenance="hr", member_viewability_level="admins_only")
    assert g.type == "group" and g.id.isdigit() and g.group_type == "managed_group"
    assert g.description == "builders" and g.provenance == "hr"
    assert client.groups.get_group_by_id(g.id).member_viewability_level == "admins_only"
    assert [x.id for x in client.groups.get_groups(filter_term=f"eng {unique}").entries] == [g.id]
    updated = client.groups.update_group_by_id(g.id, description="makers")
    assert updated.description == "makers" and updated.provenance == "hr"
    assert client.groups.get_group_by_id(g.id, fields=["description"]).description == "makers"
    with pytest.raises(BoxAPIError) as err:
        client.groups.create_group(f"ENG {unique}")
    assert status(err) == 409
    with pytest.raises(BoxAPIError) as err:
        client.groups.update_group_by_id(g.id, invitability_level="everyone")
    assert status(err) == 400
    client.groups.delete_group_by_id(g.id)
    with pytest.raises(BoxAPIError) as err:
        client.groups.delete_group_by_id(g.id)
    assert status(err) == 404


def test_memberships(client, unique):
    g = client.groups.create_group(f"team {unique}")
    ann = new_user(client, f"Ann {unique}", unique)
    bob = new_user(client, f"Bob {unique}", unique)
    m = client.memberships.create_group_membership(CreateGroupMembershipUser(id=ann.id), CreateGroupMembershipGroup(id=g.id))
    assert m.type == "group_membership" and m.role == "member"
    assert m.user.id == ann.id and m.user.login == ann.login
    assert m.group.id == g.id and m.group.group_type == "managed_group"
    with pytest.raises(BoxAPIError) as err:
        client.memberships.create_group_membership(CreateGroupMembershipUser(id=ann.id), CreateGroupMembershipGroup(id=g.id))
    assert status(err) == 409
    admin = client.memberships.create_group_membership(
        CreateGroupMembershipUser(id=bob.id), CreateGroupMembershipGroup(id=g.id),
        role=CreateGroupMembershipRole.ADMIN, configurable_permissions={"can_run_reports": False},
    )
    assert admin.role == "admin"
    got = client.memberships.get_group_membership_by_id(admin.id)
    assert got.role == "admin"
    # A PUT with only permissions keeps the role; null disables them all.
    kept = client.memberships.update_group_membership_by_id(admin.id, configurable_permissions=NullValue())
    assert kept.role == "admin"
    demoted = client.memberships.update_group_membership_by_id(admin.id, role=UpdateGroupMembershipByIdRole.MEMBER)
    assert demoted.role == "member"
    assert client.memberships.update_group_membership_by_id(admin.id).role == "member", "no body changes nothing"

    members = client.memberships.get_group_memberships(g.id)
    assert members.total_count == 2
    assert [x.user.id for x in members.entries] == [ann.id, bob.id]
    page = client.memberships.get_group_memberships(g.id, limit=1, offset=1)
    assert page.limit == 1 and page.offset == 1 and [x.user.id for x in page.entries] == [bob.id]
    assert client.memberships.get_group_memberships(g.id, offset=50).entries == []
    mine = client.memberships.get_user_memberships(ann.id)
    assert mine.total_count == 1 and mine.entries[0].group.id == g.id
    extra = [client.groups.create_group(f"extra {unique} {i}") for i in range(2)]
    for e in extra:
        client.memberships.create_group_membership(CreateGroupMembershipUser(id=ann.id), CreateGroupMembershipGroup(id=e.id))
    second = client.memberships.get_user_memberships(ann.id, limit=1, offset=1)
    assert second.total_count == 3 and [x.group.id for x in second.entries] == [extra[0].id]

    client.memberships.delete_group_membership_by_id(m.id)
    with pytest.raises(BoxAPIError) as err:
        client.memberships.get_group_membership_by_id(m.id)
    assert status(err) == 404
    assert client.memberships.get_group_memberships(g.id).total_count == 1
    again = client.memberships.create_group_membership(CreateGroupMembershipUser(id=ann.id), CreateGroupMembershipGroup(id=g.id))
    assert again.id != m.id, "a new membership gets a new id"
    client.groups.delete_group_by_id(g.id)
    with pytest.raises(BoxAPIError) as err:
        client.memberships.get_group_membership_by_id(again.id)
    assert status(err) == 404


def test_pagination_and_errors(client, roster_url, unique):
    g = client.groups.create_group(f"paged {unique}")
    users = [new_user(client, f"P{i}x {unique}", f"{unique}-{i}") for i in range(5)]
    for u in users:
        client.memberships.create_group_membership(CreateGroupMembershipUser(id=u.id), CreateGroupMembershipGroup(id=g.id))
    seen = []
    for offset in range(0, 5, 2):
        seen += [x.user.id for x in client.memberships.get_group_memberships(g.id, limit=2, offset=offset).entries]
    assert seen == [u.id for u in users]
    assert client.memberships.get_group_memberships(g.id, limit=5000).limit == 1000
    with pytest.raises(BoxAPIError) as err:
        client.memberships.get_group_memberships(g.id, offset=10001)
    assert status(err) == 400
    assert err.value.response_info.code == "bad_request"
    assert client.memberships.get_group_memberships(g.id, offset=10000).entries == []
    with pytest.raises(BoxAPIError) as err:
        client.memberships.get_group_memberships("999999999")
    assert status(err) == 404
    with pytest.raises(BoxAPIError) as err:
        client.memberships.create_group_membership(CreateGroupMembershipUser(id="999999999"), CreateGroupMembershipGroup(id=g.id))
    assert status(err) == 404
    bad = make_client(roster_url, "rst_not_a_key")
    with pytest.raises(BoxSDKError) as err:
        bad.groups.get_groups()
    assert "expired" in str(err.value)


def test_box_writes_read_back_through_compliance(client, roster_url, admin_key, unique):
    g = client.groups.create_group(f"shared {unique}", description="from box")
    users = [new_user(client, f"C{i}y {unique}", f"{unique}-{i}") for i in range(3)]
    for u in users:
        client.memberships.create_group_membership(CreateGroupMembershipUser(id=u.id), CreateGroupMembershipGroup(id=g.id))
    compliance = ComplianceClient(api_key=admin_key, base_url=f"{roster_url}/compliance", rate_limit_rpm=0, max_retries=0)
    group = next(x for x in compliance.groups.iter() if x.name == f"shared {unique}")
    assert group.description == "from box"
    assert group.extra["roster_source_type"] == "box"
    assert [m.email for m in compliance.groups.iter_members(group.id)] == [u.login for u in users]
