"""The spec's examples (../shared/spec/async-support.rst), run as written.

Only the connection is pointed at the test server; each test then reads back what the
example claims to have done.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import persistence.engine  # noqa: F401  (the one activating import)


@pytest.fixture
async def mydatabase(mongodb_uri: str) -> AsyncIterator[Any]:
    """The spec's ``await connect_async('mydatabase')``, on a fresh database of the server."""
    from mongoengine import connect_async, disconnect_async

    name = f"mydatabase_{uuid.uuid4().hex[:8]}"
    client = await connect_async(name, host=mongodb_uri)
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await disconnect_async()


async def test_getting_started_and_document_crud(mongodb_uri: str) -> None:
    import asyncio  # noqa: F401  (as in the spec)

    from mongoengine import Document, StringField, connect_async, disconnect_async

    name = f"mydatabase_{uuid.uuid4().hex[:8]}"
    # Connect asynchronously
    client = await connect_async(name, host=mongodb_uri)

    class User(Document):
        name = StringField(required=True)
        email = StringField(required=True)

    try:
        # Create and save
        user = User(name="John", email="john@example.com")
        await user.async_save()
        assert await client[name]["user"].count_documents({"name": "John"}) == 1

        # Reload from database
        await client[name]["user"].update_one({}, {"$set": {"email": "j@example.com"}})
        await user.async_reload()
        assert user.email == "j@example.com"

        # Delete
        await user.async_delete()
        assert await client[name]["user"].count_documents({}) == 0

        # Ensure indexes
        await User.async_ensure_indexes()

        # Drop collection
        await User.async_drop_collection()
        assert "user" not in await client[name].list_collection_names()
    finally:
        await client.drop_database(name)
        await disconnect_async()


def _user_model() -> Any:
    from mongoengine import BooleanField, DateTimeField, Document, IntField, StringField

    class User(Document):
        name = StringField(required=True)
        email = StringField(required=True)
        active = BooleanField(default=True)
        department = StringField()
        salary = IntField()
        login_count = IntField(default=0)
        update_count = IntField(default=0)
        created_at = DateTimeField()

    return User


async def test_queryset_examples(mydatabase: Any) -> None:
    User = _user_model()
    await User(name="John", email="john@gmail.com", department="ops", salary=10).async_save()
    await User(name="Mary", email="mary@example.com", active=False, department="ops").async_save()

    # Get single document
    user = await User.objects.async_get(name="John")
    assert user.email == "john@gmail.com"

    # Get first matching document
    user = await User.objects.filter(email__contains="@gmail.com").async_first()
    assert user.name == "John"

    # Count documents
    count = await User.objects.async_count()
    total_users = await User.objects.filter(active=True).async_count()
    assert (count, total_users) == (2, 1)

    # Check existence
    exists = await User.objects.filter(name="John").async_exists()
    assert exists is True and await User.objects.filter(name="Zed").async_exists() is False

    # Convert to list
    users = await User.objects.filter(active=True).async_to_list()
    assert [u.name for u in users] == ["John"]

    seen = []
    async for user in User.objects.filter(active=True):
        seen.append(f"User: {user.name} ({user.email})")
    assert seen == ["User: John (john@gmail.com)"]

    processed = []

    async def process_user(u: Any) -> None:
        processed.append(u.name)

    async for user in User.objects.order_by("-created_at").limit(10):
        await process_user(user)
    assert sorted(processed) == ["John", "Mary"]


async def test_bulk_operation_examples(mydatabase: Any) -> None:
    User = _user_model()
    await User(name="John", email="old@example.com", active=False).async_save()

    # Create single document
    user = await User.objects.async_create(name="Jane", email="jane@example.com")
    assert user.id is not None

    users = []
    for i in range(100):
        user = User(name=f"User{i}", email=f"user{i}@example.com")
        await user.async_save()
        users.append(user)
    assert await mydatabase["user"].count_documents({}) == 102

    # Update single document
    result = await User.objects.filter(name="John").async_update_one(
        email="newemail@example.com"
    )
    assert result == 1
    # Bulk update
    result = await User.objects.filter(active=False).async_update(active=True)
    assert result == 1
    # Update with operators
    await User.objects.filter(name="John").async_update(inc__login_count=1)
    await User.objects.filter(email="newemail@example.com").async_update(
        set__email="new@example.com", inc__update_count=1
    )
    john = await mydatabase["user"].find_one({"name": "John"})
    assert (john["email"], john["login_count"], john["update_count"]) == ("new@example.com", 1, 1)

    # Delete matching documents
    await User.objects.filter(name__startswith="User1").async_update(active=False)
    result = await User.objects.filter(active=False).async_delete()
    assert result == 11
    await User.objects.filter(name="John").async_delete()
    assert await mydatabase["user"].count_documents({}) == 90


async def test_aggregation_and_distinct_examples(mydatabase: Any) -> None:
    from mongoengine import Document, EmbeddedDocument, EmbeddedDocumentField, StringField

    User = _user_model()
    for i, dept in enumerate(["ops", "ops", "dev", "dev", "dev", "hr"]):
        await User(
            name=f"u{i}", email=f"u{i}@x.org", department=dept, salary=10 * i, active=dept != "hr"
        ).async_save()

    pipeline = [
        {"$match": {"active": True}},
        {"$group": {"_id": "$department", "count": {"$sum": 1}, "avg_salary": {"$avg": "$salary"}}},
        {"$sort": {"count": -1}},
    ]
    results = []
    cursor = await User.objects.async_aggregate(pipeline)
    async for doc in cursor:
        results.append(doc)
    assert [(r["_id"], r["count"], r["avg_salary"]) for r in results] == [
        ("dev", 3, 30.0),
        ("ops", 2, 5.0),
    ]

    departments = await User.objects.async_distinct("department")
    active_emails = await User.objects.filter(active=True).async_distinct("email")
    assert sorted(departments) == ["dev", "hr", "ops"]
    assert len(active_emails) == 5

    class Address(EmbeddedDocument):
        city = StringField()

    class Resident(Document):
        address = EmbeddedDocumentField(Address)

    for city in ["Oslo", "Rome", "Oslo"]:
        await Resident(address=Address(city=city)).async_save()
    cities = await Resident.objects.async_distinct("address.city")
    assert sorted(cities) == ["Oslo", "Rome"]


async def test_mixed_sync_async_example(mongodb_uri: str) -> None:
    from mongoengine import (
        Document,
        StringField,
        connect,
        connect_async,
        disconnect,
        disconnect_async,
    )

    db = f"mydb_{uuid.uuid4().hex[:8]}"
    # Sync connection
    connect(db, alias="sync_conn", host=mongodb_uri, uuidRepresentation="standard")
    # Async connection
    client = await connect_async(db, alias="async_conn", host=mongodb_uri)
    try:

        class SyncUser(Document):
            name = StringField()
            meta = {"db_alias": "sync_conn"}

        class AsyncUser(Document):
            name = StringField()
            meta = {"db_alias": "async_conn"}

        sync_user = SyncUser(name="Sync User")
        sync_user.save()  # Regular save

        async_user = AsyncUser(name="Async User")
        await async_user.async_save()  # Async save

        assert [u.name for u in SyncUser.objects] == ["Sync User"]
        assert [u.name async for u in AsyncUser.objects] == ["Async User"]
        assert await client[db]["sync_user"].count_documents({}) == 1
    finally:
        await client.drop_database(db)
        await disconnect_async("async_conn")
        disconnect("sync_conn")


async def test_error_handling_example(mydatabase: Any) -> None:
    from mongoengine import Document, StringField

    class User(Document):
        name = StringField()

    caught = None
    # This will raise RuntimeError
    try:
        user = User(name="Test")
        user.save()  # Wrong! Using sync method with async connection
    except RuntimeError as e:
        caught = f"Error: {e}"
    assert caught is not None and "async_save()" in caught
    assert await mydatabase["user"].count_documents({}) == 0


async def test_transaction_example(mydatabase: Any) -> None:
    from mongoengine import Document, IntField, StringField, async_run_in_transaction

    class Account(Document):
        user_id = StringField(required=True)
        balance = IntField(default=0)

    await Account(user_id="sender123", balance=500).async_save()
    await Account(user_id="receiver456", balance=0).async_save()

    async def transfer_funds(fail: bool = False) -> None:
        async with async_run_in_transaction():
            # All operations within this block are transactional
            sender = await Account.objects.async_get(user_id="sender123")
            receiver = await Account.objects.async_get(user_id="receiver456")
            sender.balance -= 100
            receiver.balance += 100
            await sender.async_save()
            if fail:
                raise RuntimeError("network down")
            await receiver.async_save()

    await transfer_funds()
    with pytest.raises(RuntimeError):
        await transfer_funds(fail=True)
    balances = {d["user_id"]: d["balance"] async for d in mydatabase["account"].find()}
    assert balances == {"sender123": 400, "receiver456": 100}


async def test_context_manager_examples(mydatabase: Any, mongodb_uri: str) -> None:
    from mongoengine import (
        Document,
        ReferenceField,
        StringField,
        async_no_dereference,
        async_switch_collection,
        async_switch_db,
        connect_async,
        disconnect_async,
    )

    class User(Document):
        name = StringField()

    class Post(Document):
        title = StringField()
        author = ReferenceField(User)

    analytics = await connect_async(
        f"analytics_{uuid.uuid4().hex[:8]}", alias="analytics_db", host=mongodb_uri
    )
    try:
        async with async_switch_db(User, "analytics_db") as UserAnalytics:
            analytics_user = UserAnalytics(name="Analytics User")
            await analytics_user.async_save()
        async with async_switch_collection(User, "archived_users") as ArchivedUser:
            archived = ArchivedUser(name="Archived User")
            await archived.async_save()
        author = await User(name="Author").async_save()
        await Post(title="p", author=author).async_save()
        async with async_no_dereference(Post) as PostNoDereference:
            posts = await PostNoDereference.objects.async_to_list()
            assert posts[0].author.id == author.id
            assert not hasattr(posts[0].author, "async_fetch")  # a plain reference

        analytics_db = get_db_name(analytics, "analytics_db")
        assert await analytics[analytics_db]["user"].count_documents({}) == 1
        assert await mydatabase["archived_users"].count_documents({}) == 1
        assert [d["name"] async for d in mydatabase["user"].find()] == ["Author"]
    finally:
        await analytics.drop_database(get_db_name(analytics, "analytics_db"))
        await disconnect_async("analytics_db")


def get_db_name(client: Any, alias: str) -> str:
    from mongoengine import get_async_db

    return get_async_db(alias).name  # type: ignore[no-any-return]


async def test_reference_and_cascade_examples(mydatabase: Any) -> None:
    from mongoengine import (
        CASCADE,
        Document,
        LazyReferenceField,
        ReferenceField,
        StringField,
    )

    class User(Document):
        name = StringField(required=True)
        email = StringField(required=True)

    class Post(Document):
        title = StringField(required=True)
        author = ReferenceField(User)

    class Comment(Document):
        text = StringField(required=True)
        post = ReferenceField(Post)
        author = ReferenceField(User)

    user = User(name="Alice", email="alice@example.com")
    await user.async_save()
    post = Post(title="My Post", author=user)
    await post.async_save()

    fetched_post = await Post.objects.async_first()
    author = await fetched_post.author.async_fetch()  # Returns User instance
    assert f"Post by: {author.name}" == "Post by: Alice"

    class LazyPost(Document):
        title = StringField(required=True)
        author = LazyReferenceField(User)

    await LazyPost(title="Lazy", author=user).async_save()
    lazy = await LazyPost.objects.async_first()
    author = await lazy.author.async_fetch()
    assert author.name == "Alice"

    class Author(Document):
        name = StringField(required=True)

    class Book(Document):
        title = StringField(required=True)
        author = ReferenceField(Author, reverse_delete_rule=CASCADE)

    await Author(name="John Doe").async_save()
    doe = await Author.objects.async_get(name="John Doe")
    await Book(title="B1", author=doe).async_save()
    await Book(title="B2", author=doe).async_save()
    author = await Author.objects.async_get(name="John Doe")
    await author.async_delete()  # This cascades to delete all books
    assert await mydatabase["book"].count_documents({}) == 0


async def test_common_patterns(mydatabase: Any) -> None:
    User = _user_model()
    for i in range(25):
        await User(name=f"u{i}", email=f"u{i}@x.org").async_save()

    seen: list[str] = []

    async def process_single_user(user: Any) -> None:
        user.login_count += 1
        seen.append(user.name)

    async def process_users_in_batches(batch_size: int = 100) -> None:
        total = await User.objects.async_count()
        processed = 0
        while processed < total:
            batch = await User.objects.skip(processed).limit(batch_size).async_to_list()
            for user in batch:
                await process_single_user(user)
                await user.async_save()
            processed += len(batch)

    await process_users_in_batches(batch_size=10)
    assert len(set(seen)) == 25
    assert await mydatabase["user"].count_documents({"login_count": 1}) == 25
