"""Reads for conversations, messages and the event log: always given the user, always permission-filtered."""

import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import CharField, F, QuerySet, UUIDField, Value
from django.db.models.functions import Cast, Replace
from django.http import Http404
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_groups_with_perms

from chats.models import Conversation, Message, RunEvent
from orgs.models import Organization, Role, Team
from orgs.selectors import cluster_can_use, has_role, membership_get

VIEW_PERM = "chats.view_conversation"
ASK_PERM = "chats.ask_conversation"


def conversation_list(*, user, org: Organization | None = None, q: str = "") -> QuerySet[Conversation]:
    """Conversations the user may see: their own and those shared with them or their teams, in orgs they
    still belong to; newest activity first. `q` searches titles and message text."""
    if not user.is_authenticated or not user.is_active:
        return Conversation.objects.none()
    conversations = Conversation.objects.filter(
        pk__in=_visible_ids(user), org__memberships__user=user, deleted_at__isnull=True
    )
    if org is not None:
        conversations = conversations.filter(org=org)
    if q.strip():
        conversations = conversations.filter(pk__in=_search_ids(q.strip()))
    return conversations.select_related("org", "cluster", "owner").order_by("-last_activity_at", "-id")


def _visible_ids(user):
    """Ids of the user's own conversations and of those shared with them or one of their teams (guardian's object
    permission rows, read directly), as one union: PostgreSQL looks each set up by index, where `owner = me OR id
    IN (shared)` made it scan every conversation of the install. Guardian's get_objects_for_user also nested its
    test three deep and cost the list more CPU than its own query."""
    grant = {
        "permission__content_type": ContentType.objects.get_for_model(Conversation),
        "permission__codename": VIEW_PERM.split(".", 1)[1],
    }
    if connection.features.has_native_uuid_field:
        granted = Cast("object_pk", UUIDField())
    else:  # SQLite (embedded mode) stores a uuid as 32 hex digits; guardian keeps str(uuid)
        granted = Replace("object_pk", Value("-"), Value(""), output_field=CharField())
    # No ORDER BY in the parts: SQLite refuses one inside a compound statement.
    own = Conversation.objects.filter(owner=user).order_by().values("pk")
    by_user = UserObjectPermission.objects.filter(user=user, **grant).order_by().values(conversation_id=granted)
    by_team = GroupObjectPermission.objects.filter(group__user=user, **grant).order_by().values(conversation_id=granted)
    return own.union(by_user, by_team)


def _search_ids(q: str):
    if settings.IS_POSTGRES:
        query = SearchQuery(q, search_type="websearch", config="english")
        by_title = Conversation.objects.annotate(sv=SearchVector("title", config="english")).filter(sv=query)
        by_text = Message.objects.annotate(sv=SearchVector("content", config="english")).filter(sv=query)
    else:
        by_title = Conversation.objects.filter(title__icontains=q)
        by_text = Message.objects.filter(content__icontains=q)
    return by_title.order_by().values("pk").union(by_text.order_by().values("conversation_id"))


def conversation_get_for_view(*, user, conversation_id) -> Conversation:
    """The conversation if the user may see it, else Http404 (we never confirm that it exists)."""
    try:
        pk = uuid.UUID(str(conversation_id))
    except ValueError:
        raise Http404("No such conversation.") from None
    conversation = _own_conversation(user=user, pk=pk) or conversation_list(user=user).filter(pk=pk).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def _owned(*, user_id, conversation_id) -> QuerySet[Conversation]:
    """The `owner=user` branch of conversation_list for one conversation, as one plain query: every posted message
    and every WebSocket connect asks, nearly always about the user's own conversation."""
    return Conversation.objects.filter(
        pk=conversation_id, owner_id=user_id, org__memberships__user_id=user_id, deleted_at__isnull=True
    )


def _own_conversation(*, user, pk) -> Conversation | None:
    if not user.is_authenticated or not user.is_active:
        return None
    return _owned(user_id=user.pk, conversation_id=pk).select_related("org", "cluster", "owner").first()


def conversation_can_view(*, user, conversation_id) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if _owned(user_id=user.pk, conversation_id=conversation_id).exists():
        return True
    return conversation_list(user=user).filter(pk=conversation_id).exists()


def conversation_is_active_owners(*, user_id, conversation_id, password: str | None = None) -> bool:
    """One query: the user owns the conversation, is active and still a member of its org (a sufficient
    condition of conversation_can_view that reads the user's state from the database, not from memory), and,
    when given, still has this password hash."""
    owned = _owned(user_id=user_id, conversation_id=conversation_id).filter(owner__is_active=True)
    if password is not None:
        owned = owned.filter(owner__password=password)
    return owned.exists()


def conversation_can_ask(*, user, conversation: Conversation) -> bool:
    """May post messages (start runs): the owner or a holder of ask_conversation, who may also use the cluster."""
    if conversation.cluster_id is None or not conversation_can_view(user=user, conversation_id=conversation.pk):
        return False
    if conversation.owner_id != user.pk and not user.has_perm(ASK_PERM, conversation):
        return False
    return cluster_can_use(user=user, cluster=conversation.cluster)


def conversation_can_manage(*, user, conversation: Conversation) -> bool:
    """May rename, delete and share: the owner, or an admin of the conversation's org."""
    if membership_get(user=user, org=conversation.org) is None:
        return False
    return conversation.owner_id == user.pk or has_role(user=user, org=conversation.org, role=Role.ADMIN)


def message_list(*, user, conversation: Conversation) -> QuerySet[Message]:
    conversation_get_for_view(user=user, conversation_id=conversation.pk)
    return Message.objects.filter(conversation=conversation)


def run_conversation_get_for_view(*, user, run_id) -> Conversation:
    """The conversation of a run, if the user may see it; else 404. Found through the event log, which holds every
    run from its run.queued on, so chats need not know the runs table."""
    try:
        pk = uuid.UUID(str(run_id))
    except ValueError:
        raise Http404("No such run.") from None
    visible = conversation_list(user=user)
    conversation = visible.filter(events__run_id=pk).first()
    if conversation is None:
        raise Http404("No such run.")
    return conversation


def run_events_after(*, user, conversation: Conversation, after: int, run_id=None, limit: int | None = None):
    """Events of the conversation with seq > after (optionally of one run), in seq order, for a viewer."""
    conversation_get_for_view(user=user, conversation_id=conversation.pk)
    events = RunEvent.objects.filter(conversation=conversation, seq__gt=after).order_by("seq")
    if run_id is not None:
        events = events.filter(run_id=run_id)
    return events[:limit] if limit else events


def conversation_events_between(*, conversation_id, after: int, upto: int | None = None, limit: int = 500):
    """Raw log read for the WebSocket consumer, which has already checked access at connect."""
    events = RunEvent.objects.filter(conversation_id=conversation_id, seq__gt=after)
    if upto is not None:
        events = events.filter(seq__lte=upto)
    return list(events.order_by("seq")[:limit])


def conversation_last_seq(*, conversation_id) -> int:
    return Conversation.objects.filter(pk=conversation_id).values_list("last_seq", flat=True).first() or 0


def conversations_last_seq(*, conversation_ids) -> dict[str, int]:
    """The log's last seq of each conversation, in one query (the web process's socket watch)."""
    rows = Conversation.objects.filter(pk__in=conversation_ids).values_list("pk", "last_seq")
    return {str(pk): last_seq for pk, last_seq in rows}


def conversations_owned_by_active_owners(*, conversation_ids) -> set[tuple[str, str, str]]:
    """(conversation, owner, owner's password hash) of each conversation whose owner is active and still a member
    of its org, in one query: conversation_is_active_owners for every socket of a process at once."""
    rows = Conversation.objects.filter(
        pk__in=conversation_ids,
        deleted_at__isnull=True,
        owner__is_active=True,
        org__memberships__user_id=F("owner_id"),
    ).values_list("pk", "owner_id", "owner__password")
    return {(str(pk), str(owner), password) for pk, owner, password in rows}


def conversation_shares(*, user, conversation: Conversation) -> list[dict]:
    """The teams a conversation is shared with, for someone who may see it."""
    conversation_get_for_view(user=user, conversation_id=conversation.pk)
    groups = get_groups_with_perms(conversation, attach_perms=True)
    teams = {t.group_id: t for t in Team.objects.filter(group__in=list(groups))}
    return [
        {"team": teams[g.pk].pk, "name": teams[g.pk].name, "can_ask": "ask_conversation" in perms}
        for g, perms in groups.items()
        if g.pk in teams
    ]


def conversation_org(*, conversation_id) -> Organization:
    """The organisation of a conversation, for the runtime's audit rows (no access check: the run was checked)."""
    return Conversation.objects.select_related("org").get(pk=conversation_id).org


def conversation_history(*, conversation_id, before=None, limit: int) -> list[dict]:
    """The last `limit` user and assistant messages (before `before`, a time), oldest first, as {role, content}:
    what a run reads of its conversation (its access was checked when it was posted)."""
    earlier = Message.objects.filter(conversation_id=conversation_id, role__in=["user", "assistant"])
    if before is not None:
        earlier = earlier.filter(created_at__lt=before)
    rows = list(earlier.order_by("-created_at").values("role", "content")[:limit])
    return [{"role": row["role"], "content": row["content"]} for row in reversed(rows)]


def conversation_has_title(*, conversation_id) -> bool:
    return bool(Conversation.objects.filter(pk=conversation_id).values_list("title", flat=True).first())
