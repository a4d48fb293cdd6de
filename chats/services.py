"""Writers for conversations: each starts with an access check and runs in one transaction."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from chats.event_log import storable
from chats.models import Conversation, Message
from chats.selectors import ASK_PERM, VIEW_PERM, conversation_can_manage, conversation_get_for_view
from chats.signals import conversation_deleted
from orgs.models import ClusterConnection, Organization, Team, dns_label
from orgs.selectors import cluster_can_use, membership_get
from orgs.services import audit_record
from skyflo.api_errors import Conflict

TITLE_MAX = 200


def message_content_validate(content) -> str:
    """The message text, stripped; ValidationError (400) when empty or longer than MAX_MESSAGE_CHARS."""
    if not isinstance(content, str) or not content.strip():
        raise ValidationError("The message is empty.", code="blank")
    content = content.strip()
    limit = settings.MAX_MESSAGE_CHARS
    if len(content) > limit:
        raise ValidationError(
            f"The message is {len(content)} characters long; the limit is {limit} (MAX_MESSAGE_CHARS).",
            code="too_long",
        )
    return content


def _title_clean(title: str) -> str:
    title = (title or "").strip()
    if len(title) > TITLE_MAX:
        raise ValidationError({"title": [f"At most {TITLE_MAX} characters."]})
    return title


@transaction.atomic
def conversation_create(*, user, org_slug: str, cluster_id, title: str = "", namespace: str = "") -> Conversation:
    """A new conversation of `user` in their org on a cluster they may use (404 unknown org/cluster, 403 no use)."""
    org = Organization.objects.filter(slug=org_slug).first()
    if org is None or membership_get(user=user, org=org) is None:
        raise Http404("No such organisation.")
    cluster = ClusterConnection.objects.filter(org=org, pk=cluster_id).first()
    if cluster is None:
        raise Http404("No such cluster.")
    if not cluster_can_use(user=user, cluster=cluster):
        raise PermissionDenied("You may not use this cluster.")
    namespace = (namespace or "").strip() or cluster.default_namespace
    try:
        dns_label(namespace)  # it reaches the agent's system prompt and kubectl's arguments
    except ValidationError:
        raise ValidationError({"namespace": [dns_label.message]}) from None
    if cluster.allowed_namespaces and namespace not in cluster.allowed_namespaces:
        raise ValidationError({"namespace": [f"Namespace {namespace!r} is not allowed on this cluster."]})
    return Conversation.objects.create(
        org=org, cluster=cluster, owner=user, title=_title_clean(title), namespace=namespace
    )


def _managed(*, user, conversation_id) -> Conversation:
    conversation = conversation_get_for_view(user=user, conversation_id=conversation_id)
    if not conversation_can_manage(user=user, conversation=conversation):
        raise PermissionDenied("Only the owner or an org admin may change this conversation.")
    return conversation


@transaction.atomic
def conversation_rename(*, user, conversation_id, title: str) -> Conversation:
    conversation = _managed(user=user, conversation_id=conversation_id)
    conversation.title = _title_clean(title)
    conversation.save(update_fields=["title", "updated_at"])
    return conversation


@transaction.atomic
def conversation_delete(*, user, conversation_id, ip: str | None = None) -> None:
    """Hide the conversation from everyone and drop its event log; its messages, runs, approvals and tool-call
    ledger stay as the trail of what was asked and changed (Conflict while a run is unfinished: cancel it first).
    Audited; `conversation_deleted` follows the commit."""
    conversation = _managed(user=user, conversation_id=conversation_id)
    Conversation.objects.select_for_update().filter(pk=conversation.pk).first()  # runs start under this lock
    if conversation.runs.filter(finished_at__isnull=True).exists():
        raise Conflict("A request in this conversation is still running; cancel it before deleting.")
    pk = conversation.pk
    _object_permissions_delete(conversation)
    conversation.events.all().delete()
    conversation.deleted_at = timezone.now()
    conversation.save(update_fields=["deleted_at", "updated_at"])
    data = {"title": conversation.title}
    audit_record(actor=user, org=conversation.org, action="conversation.deleted", target=conversation, data=data, ip=ip)
    transaction.on_commit(lambda: conversation_deleted.send(sender=Conversation, conversation_id=pk))


def _object_permissions_delete(conversation: Conversation) -> None:
    content_type = ContentType.objects.get_for_model(Conversation)
    for model in (UserObjectPermission, GroupObjectPermission):
        model.objects.filter(content_type=content_type, object_pk=str(conversation.pk)).delete()


def _team_of(conversation: Conversation, team_id) -> Team:
    team = Team.objects.filter(org=conversation.org, pk=team_id).select_related("group").first()
    if team is None:
        raise ValidationError({"team": ["No such team in this organisation."]})
    return team


def _team_may_use(team: Team, cluster: ClusterConnection | None) -> bool:
    return cluster is not None and bool({"use_cluster", "operate_cluster"} & set(get_perms(team.group, cluster)))


@transaction.atomic
def conversation_share(*, user, conversation_id, team_id, can_ask: bool = False, ip: str | None = None) -> dict:
    """Share with a team: view always; ask only when asked for and the team may use the cluster."""
    conversation = _managed(user=user, conversation_id=conversation_id)
    team = _team_of(conversation, team_id)
    if can_ask and not _team_may_use(team, conversation.cluster):
        raise ValidationError({"can_ask": ["This team may not use the conversation's cluster."]})
    assign_perm(VIEW_PERM, team.group, conversation)
    if can_ask:
        assign_perm(ASK_PERM, team.group, conversation)
    else:
        remove_perm(ASK_PERM, team.group, conversation)
    data = {"team": team.name, "can_ask": can_ask}
    audit_record(actor=user, org=conversation.org, action="conversation.shared", target=conversation, data=data, ip=ip)
    return {"team": team.pk, "can_ask": can_ask}


@transaction.atomic
def conversation_unshare(*, user, conversation_id, team_id, ip: str | None = None) -> None:
    conversation = _managed(user=user, conversation_id=conversation_id)
    team = Team.objects.filter(org=conversation.org, pk=team_id).select_related("group").first()
    if team is None or VIEW_PERM.split(".")[1] not in get_perms(team.group, conversation):
        raise Http404("The conversation is not shared with this team.")
    remove_perm(VIEW_PERM, team.group, conversation)
    remove_perm(ASK_PERM, team.group, conversation)
    data = {"team": team.name}
    audit_record(
        actor=user, org=conversation.org, action="conversation.unshared", target=conversation, data=data, ip=ip
    )


# --- written by runs (workflows/), whose access was checked when the message was posted ----------------------


def message_user_create(*, conversation: Conversation, author, content: str, run_id) -> Message:
    """The person's message that starts run `run_id` (inside the caller's transaction)."""
    return Message.objects.create(
        conversation=conversation, role=Message.Role.USER, author=author, content=content, run_id=run_id
    )


def message_assistant_create(*, conversation_id, message_id, content: str, run_id) -> Message:
    """An agent's streamed answer as a row, once (a retried run keeps the first)."""
    message, _ = Message.objects.get_or_create(
        id=message_id,
        defaults={
            "conversation_id": conversation_id,
            "role": Message.Role.ASSISTANT,
            "content": storable(content),
            "run_id": run_id,
        },
    )
    return message


def conversation_title_set_if_empty(*, conversation_id, title: str) -> None:
    """A title generated after the first exchange; a title someone set meanwhile wins."""
    Conversation.objects.filter(pk=conversation_id, title="").update(title=title[:200])


def conversation_lock(*, conversation_id) -> None:
    """Lock the conversation's row until the caller's transaction ends (one run starts at a time per conversation)."""
    Conversation.objects.select_for_update().filter(pk=conversation_id).first()
