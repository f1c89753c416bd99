"""posit-sdk against Roster's Posit Connect front-end: every group and user
operation the SDK documents, driven through the unmodified SDK."""

import pytest
import requests
from posit.connect import Client
from posit.connect.errors import ClientError


@pytest.fixture
def client(roster_url, admin_key):
    # Resources hold a weak reference to the client: keep it in a variable.
    return Client(f"{roster_url}/posit", admin_key)


def make_user(client, name, **extra):
    return client.users.create(username=name, **extra)


def test_me_and_version(client):
    me = client.me
    assert me["username"] == "admin"
    assert me["user_role"] == "administrator"
    assert client.version


def test_groups_create_get_find_count_delete(client, unique):
    before = client.groups.count()
    created = client.groups.create(name=f"Engineering-{unique}", unique_id=f"eng-{unique}")
    assert created["name"] == f"Engineering-{unique}"
    assert client.groups.count() == before + 1
    fetched = client.groups.get(created["guid"])
    assert fetched == created
    # Prefix search ignores case, and create == get == find()[i].
    found = client.groups.find(prefix=f"engineering-{unique}".upper())
    assert found == [created]
    assert client.groups.find_one(prefix=f"ENGINEERING-{unique}") == created
    assert client.groups.find_one(prefix=f"nothing-{unique}") is None
    assert client.groups.find(prefix=f"nothing-{unique}") == []
    created.delete()
    assert client.groups.count() == before
    with pytest.raises(ClientError) as err:
        client.groups.get(created["guid"])
    assert err.value.http_status == 404
    assert "does not exist" in err.value.error_message


def test_group_without_unique_id_and_duplicates(client, unique):
    group = client.groups.create(name=f"plain-{unique}", unique_id=None)
    with pytest.raises(ClientError) as err:
        client.groups.create(name=f"PLAIN-{unique}")
    assert err.value.http_status == 409
    assert "name" in err.value.error_message
    group.delete()


def test_members_add_find_count_delete(client, unique):
    group = client.groups.create(name=f"team-{unique}")
    alice = make_user(client, f"alice-{unique}", email=f"alice-{unique}@example.com")
    bob = make_user(client, f"bob-{unique}")
    assert group.members.count() == 0
    group.members.add(alice)
    group.members.add(user_guid=bob["guid"])
    group.members.add(alice)  # adding twice changes nothing
    assert group.members.count() == 2
    members = group.members.find()
    assert sorted(m["username"] for m in members) == sorted([f"alice-{unique}", f"bob-{unique}"])
    assert [m for m in members if m["guid"] == alice["guid"]][0] == client.users.get(alice["guid"])
    group.members.delete(alice)
    assert group.members.count() == 1
    group.members.delete(user_guid=bob["guid"])
    assert group.members.count() == 0
    assert group.members.find() == []
    with pytest.raises(ClientError) as err:
        group.members.delete(user_guid=bob["guid"])
    assert err.value.http_status == 404
    group.delete()


def test_user_groups_add_find_delete(client, unique):
    user = make_user(client, f"carol-{unique}")
    g1 = client.groups.create(name=f"g1-{unique}")
    g2 = client.groups.create(name=f"g2-{unique}")
    user.groups.add(g1)
    user.groups.add(g2["guid"])
    assert sorted(g["guid"] for g in user.groups.find()) == sorted([g1["guid"], g2["guid"]])
    user.groups.delete(g1)
    assert [g["guid"] for g in user.groups.find()] == [g2["guid"]]


def test_users_create_get_find_count(client, unique):
    before = client.users.count()
    user = client.users.create(
        username=f"dana-{unique}",
        email=f"dana-{unique}@example.com",
        first_name="Dana",
        last_name=f"Scully{unique}",
        user_role="publisher",
        unique_id=f"ext-{unique}",
        password="correct horse battery",
    )
    assert client.users.count() == before + 1
    assert user["user_role"] == "publisher"
    assert user["locked"] is False
    assert "password" not in user
    assert client.users.get(user["guid"]) == user
    # Prefix of username, first name or last name, ignoring case.
    assert client.users.find(prefix=f"DANA-{unique}") == [user]
    assert user in client.users.find(prefix="dana")
    assert client.users.find(prefix=f"scully{unique}") == [user]
    assert client.users.find_one(prefix=f"nobody-{unique}") is None
    assert user in client.users.find(user_role="viewer|publisher")
    assert user not in client.users.find(user_role="administrator")
    assert client.me in client.users.find(user_role="administrator")
    assert user in client.users.find(account_status="licensed")
    assert user not in client.users.find(account_status="locked")


def test_users_update_lock_unlock(client, unique):
    user = make_user(client, f"erin-{unique}")
    assert user["user_role"] == "viewer"
    user.update(first_name="Erin", user_role="publisher")
    assert user["first_name"] == "Erin"
    assert client.users.get(user["guid"])["user_role"] == "publisher"
    user.lock()
    assert client.users.get(user["guid"])["locked"] is True
    assert user["guid"] in [u["guid"] for u in client.users.find(account_status="locked")]
    user.unlock()
    assert client.users.get(user["guid"])["locked"] is False


def test_pages_past_the_first_return_every_item_once(client, unique):
    # The SDK asks for 500 per page: 520 groups take two pages.
    made = {client.groups.create(name=f"bulk-{unique}-{i:04d}")["guid"] for i in range(520)}
    found = client.groups.find(prefix=f"bulk-{unique}-")
    guids = [g["guid"] for g in found]
    assert len(guids) == len(set(guids)) == 520
    assert set(guids) == made
    assert client.groups.count() >= 520


def test_errors_raise_client_error(client, roster_url, admin_key, unique):
    with pytest.raises(ClientError) as err:
        client.users.get("00000000-0000-7000-8000-00000000dead")
    assert err.value.http_status == 404
    with pytest.raises(ClientError) as err:
        client.users.create(username=f"frank-{unique}", user_role="owner")
    assert err.value.http_status == 400
    assert "user_role" in str(err.value)
    with pytest.raises(ClientError) as err:
        client.users.create(username=f"bad name {unique}")
    assert err.value.http_status == 400
    make_user(client, f"gina-{unique}")
    with pytest.raises(ClientError) as err:
        make_user(client, f"GINA-{unique}")
    assert err.value.http_status == 409
    bad = Client(f"{roster_url}/posit", "rst_not_a_key")
    with pytest.raises(ClientError) as err:
        bad.groups.count()
    assert err.value.http_status == 401
    # The SDK always asks for 500 per page; a bad page size from another
    # client gets Posit's error body naming the parameter.
    res = requests.get(
        f"{roster_url}/posit/__api__/v1/groups?page_size=0",
        headers={"Authorization": f"Key {admin_key}"},
        timeout=10,
    )
    assert res.status_code == 400
    body = res.json()
    assert set(body) == {"code", "error", "payload"}
    assert body["payload"] == {"field": "page_size"}


def test_permissions_for_a_viewer(client, roster_url, admin_key, unique):
    viewer = make_user(client, f"hank-{unique}")
    # A key for the viewer, made through the native API.
    key = requests.post(
        f"{roster_url}/v1/keys",
        headers={"Authorization": f"Bearer {admin_key}"},
        json={"user_id": viewer["guid"], "name": "sdk"},
        timeout=10,
    ).json()["key"]
    as_viewer = Client(f"{roster_url}/posit", key)
    group = client.groups.create(name=f"private-{unique}")
    assert as_viewer.me["guid"] == viewer["guid"]
    with pytest.raises(ClientError) as err:
        as_viewer.groups.create(name=f"mine-{unique}")
    assert err.value.http_status == 403
    with pytest.raises(ClientError) as err:
        as_viewer.groups.get(group["guid"])
    assert err.value.http_status == 404
    group.members.add(viewer)
    assert as_viewer.groups.get(group["guid"]) == group
    with pytest.raises(ClientError) as err:
        as_viewer.groups.get(group["guid"]).members.add(user_guid=client.me["guid"])
    assert err.value.http_status == 403
