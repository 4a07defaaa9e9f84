"""Microsoft's Graph SDK for Python (msgraph-sdk) against a running Portico.

Each test drives the SDK through `asyncio.run` with a fresh client (the SDK's
httpx.AsyncClient is bound to the event loop that first used it).
"""

import asyncio
import os
import uuid
from urllib.parse import urlparse

import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.item.members.members_request_builder import MembersRequestBuilder
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

# One marker per run, so names never collide with anything else in the tenant.
RUN = uuid.uuid4().hex[:8]
PREFIX = f"Compat {RUN}"
# A verified domain of the tenant (compat/run.sh creates the tenant with it).
DOMAIN = os.environ.get("PORTICO_DOMAIN", "contoso.test")


class StaticToken(AccessTokenProvider):
    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._validator = AllowedHostsValidator([host])

    async def get_authorization_token(self, uri, additional_authentication_context={}):
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def make_client(base: str, token: str) -> GraphServiceClient:
    host = urlparse(base).netloc  # "127.0.0.1:PORT"
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token, host)))
    adapter.base_url = base + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def run(base, token, fn):
    """Run `fn(client)` (a coroutine function) on a fresh loop with a fresh client."""

    async def main():
        client = make_client(base, token)
        return await fn(client)

    return asyncio.run(main())


def new_user(n: int) -> User:
    nick = f"compat{RUN}u{n}"
    return User(
        account_enabled=True,
        display_name=f"{PREFIX} User {n}",
        mail_nickname=nick,
        user_principal_name=f"{nick}@{DOMAIN}",
        given_name="Compat",
        surname=f"User{n}",
        password_profile=PasswordProfile(
            force_change_password_next_sign_in=False,
            password=f"Compat-{RUN}-Pa55word!",
        ),
    )


@pytest.fixture(scope="module")
def fixture_objects(base, access_token):
    """Two users and a group (user 1 is added as a member), created through the SDK."""

    async def create(client: GraphServiceClient):
        u1 = await client.users.post(new_user(1))
        u2 = await client.users.post(new_user(2))
        g = await client.groups.post(
            Group(
                display_name=f"{PREFIX} Group",
                mail_enabled=False,
                mail_nickname=f"compat{RUN}g",
                security_enabled=True,
                description="created by compat/python/test_graph_sdk.py",
            )
        )
        await client.groups.by_group_id(g.id).members.ref.post(
            ReferenceCreate(odata_id=f"{base}/v1.0/directoryObjects/{u1.id}")
        )
        return u1, u2, g

    return run(base, access_token, create)


def test_create_user_returns_server_values(fixture_objects):
    u1, u2, _ = fixture_objects
    for u, n in ((u1, 1), (u2, 2)):
        assert isinstance(u, User)
        assert str(uuid.UUID(u.id)) == u.id.lower()
        assert u.display_name == f"{PREFIX} User {n}"
        assert u.user_principal_name == f"compat{RUN}u{n}@{DOMAIN}"
        assert u.account_enabled is True
    assert u1.id != u2.id


def test_create_group(fixture_objects):
    _, _, g = fixture_objects
    assert isinstance(g, Group)
    assert uuid.UUID(g.id)
    assert g.display_name == f"{PREFIX} Group"
    assert g.security_enabled is True
    assert g.mail_enabled is False


def test_get_user_by_id(base, access_token, fixture_objects):
    u1, _, _ = fixture_objects
    got = run(base, access_token, lambda c: c.users.by_user_id(u1.id).get())
    assert got.id == u1.id
    assert got.display_name == u1.display_name
    assert got.user_principal_name == u1.user_principal_name
    assert got.given_name == "Compat"
    assert got.surname == "User1"


def test_list_users_filter_select_top_count(base, access_token, fixture_objects):
    u1, u2, _ = fixture_objects

    async def query(client, top):
        params = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"startsWith(displayName,'{PREFIX} User')",
            select=["id", "displayName", "userPrincipalName"],
            top=top,
            count=True,
            orderby=["displayName"],
        )
        config = RequestConfiguration(query_parameters=params)
        config.headers.add("ConsistencyLevel", "eventual")
        return await client.users.get(request_configuration=config)

    page = run(base, access_token, lambda c: query(c, 1))
    # $count counts every match, $top limits the page.
    assert page.odata_count == 2
    assert len(page.value) == 1
    assert page.value[0].id == u1.id
    assert page.value[0].display_name == f"{PREFIX} User 1"
    # A next link is offered since more rows match than $top allows.
    assert page.odata_next_link

    page = run(base, access_token, lambda c: query(c, 10))
    assert page.odata_count == 2
    assert [u.id for u in page.value] == [u1.id, u2.id]
    for u in page.value:
        assert u.user_principal_name.startswith(f"compat{RUN}u")
        # $select: properties not asked for are not sent.
        assert u.given_name is None
        assert u.surname is None


def test_list_group_members(base, access_token, fixture_objects):
    u1, u2, g = fixture_objects

    async def members(client):
        return await client.groups.by_group_id(g.id).members.get()

    page = run(base, access_token, members)
    ids = [m.id for m in page.value]
    assert ids == [u1.id]
    assert u2.id not in ids
    # The SDK maps @odata.type to the derived class.
    assert isinstance(page.value[0], User)
    assert page.value[0].display_name == f"{PREFIX} User 1"


def test_list_group_members_cast_to_users(base, access_token, fixture_objects):
    u1, _, g = fixture_objects

    async def users_only(client):
        # The SDK sends GET /groups/{id}/members/graph.user for this builder.
        return await client.groups.by_group_id(g.id).members.graph_user.get()

    page = run(base, access_token, users_only)
    assert [m.id for m in page.value] == [u1.id]
    assert isinstance(page.value[0], User)


def test_list_group_members_count(base, access_token, fixture_objects):
    _, _, g = fixture_objects

    async def members(client):
        params = MembersRequestBuilder.MembersRequestBuilderGetQueryParameters(count=True)
        config = RequestConfiguration(query_parameters=params)
        config.headers.add("ConsistencyLevel", "eventual")
        return await client.groups.by_group_id(g.id).members.get(request_configuration=config)

    page = run(base, access_token, members)
    assert page.odata_count == 1


def test_audit_log_has_add_member_record(base, access_token, fixture_objects):
    u1, _, g = fixture_objects

    page = run(base, access_token, lambda c: c.audit_logs.directory_audits.get())
    assert page.value, "no directory audit records"
    matches = [
        a
        for a in page.value
        if a.activity_display_name == "Add member to group"
        and {t.id for t in (a.target_resources or [])} >= {u1.id}
    ]
    assert matches, [
        (a.activity_display_name, [t.id for t in a.target_resources or []]) for a in page.value
    ]
    rec = matches[0]
    assert rec.category == "GroupManagement"
    assert rec.activity_date_time is not None
    assert rec.result is not None and rec.result.value == "success"
    target_ids = {t.id for t in rec.target_resources}
    assert g.id in target_ids
    # The add was made by our app: initiatedBy names an app, not a user.
    assert rec.initiated_by is not None and rec.initiated_by.app is not None


def test_missing_user_raises_odata_error(base, access_token):
    missing = str(uuid.uuid4())
    with pytest.raises(ODataError) as excinfo:
        run(base, access_token, lambda c: c.users.by_user_id(missing).get())
    err = excinfo.value
    assert err.response_status_code == 404
    assert err.error is not None
    assert err.error.code == "Request_ResourceNotFound"
    assert err.error.message


def test_users_count_endpoint(base, access_token, fixture_objects):
    from msgraph.generated.users.count.count_request_builder import CountRequestBuilder

    async def count(client):
        params = CountRequestBuilder.CountRequestBuilderGetQueryParameters(
            filter=f"startsWith(displayName,'{PREFIX} User')"
        )
        config = RequestConfiguration(query_parameters=params)
        config.headers.add("ConsistencyLevel", "eventual")
        return await client.users.count.get(request_configuration=config)

    assert run(base, access_token, count) == 2


def test_next_link_paging(base, access_token, fixture_objects):
    u1, u2, _ = fixture_objects

    async def pages(client):
        params = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"startsWith(displayName,'{PREFIX} User')", top=1, orderby=["displayName"], count=True
        )
        config = RequestConfiguration(query_parameters=params)
        config.headers.add("ConsistencyLevel", "eventual")
        first = await client.users.get(request_configuration=config)
        # Advanced queries need the header on every page, as the SDK's PageIterator sends it.
        follow = RequestConfiguration()
        follow.headers.add("ConsistencyLevel", "eventual")
        second = await client.users.with_url(first.odata_next_link).get(request_configuration=follow)
        return first, second

    first, second = run(base, access_token, pages)
    assert [u.id for u in first.value] == [u1.id]
    assert [u.id for u in second.value] == [u2.id]
    assert not second.odata_next_link


def test_update_and_delete_user(base, access_token):
    async def scenario(client):
        u = await client.users.post(new_user(9))
        patched = await client.users.by_user_id(u.id).patch(User(job_title="Compat tester", department="QA"))
        # department is not in Graph's default user property set: ask for it.
        params = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "jobTitle", "department"]
        )
        got = await client.users.by_user_id(u.id).get(RequestConfiguration(query_parameters=params))
        await client.users.by_user_id(u.id).delete()
        try:
            await client.users.by_user_id(u.id).get()
        except ODataError as e:
            return u, patched, got, e
        return u, patched, got, None

    u, patched, got, err = run(base, access_token, scenario)
    # Graph answers PATCH /users/{id} with 204 No Content: the SDK returns None then.
    assert patched is None or patched.id == u.id
    assert got.job_title == "Compat tester"
    assert got.department == "QA"
    assert err is not None and err.error.code == "Request_ResourceNotFound"


def test_deleted_user_can_be_read_and_restored(base, access_token):
    async def scenario(client):
        u = await client.users.post(new_user(7))
        await client.users.by_user_id(u.id).delete()
        deleted = await client.directory.deleted_items.by_directory_object_id(u.id).get()
        restored = await client.directory.deleted_items.by_directory_object_id(u.id).restore.post()
        again = await client.users.by_user_id(u.id).get()
        return u, deleted, restored, again

    u, deleted, restored, again = run(base, access_token, scenario)
    assert isinstance(deleted, User) and deleted.id == u.id
    assert deleted.deleted_date_time is not None
    assert isinstance(restored, User) and restored.id == u.id
    assert again.id == u.id and again.display_name == u.display_name


def test_deleted_users_list_via_sdk_cast(base, access_token):
    async def scenario(client):
        u = await client.users.post(new_user(8))
        await client.users.by_user_id(u.id).delete()
        return u, await client.directory.deleted_items.graph_user.get()

    u, page = run(base, access_token, scenario)
    assert u.id in [d.id for d in page.value]


def test_duplicate_upn_is_a_bad_request_odata_error(base, access_token):
    async def scenario(client):
        await client.users.post(new_user(5))
        await client.users.post(new_user(5))

    with pytest.raises(ODataError) as excinfo:
        run(base, access_token, scenario)
    err = excinfo.value
    assert err.response_status_code == 400
    assert err.error.code == "Request_BadRequest"
    assert "userPrincipalName" in err.error.message
    # innerError is parsed by the SDK into its typed model.
    assert err.error.inner_error is not None and err.error.inner_error.request_id
