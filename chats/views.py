"""The chat pages. The page is rendered once; everything after that goes through the JSON API and the WebSocket."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from chats import selectors
from orgs.models import Role
from orgs.selectors import cluster_can_operate, cluster_can_request_changes, cluster_list, has_role, org_list, team_list
from orgs.views import nav_context

SIDEBAR_LIMIT = 100


def _sidebar(request: HttpRequest, current=None) -> dict:
    """Conversations the user may see, grouped Today / Yesterday / Earlier by last activity."""
    q = request.GET.get("q", "").strip()[:200]
    today = timezone.localdate()
    groups = {"Today": [], "Yesterday": [], "Earlier": []}
    for conversation in selectors.conversation_list(user=request.user, q=q)[:SIDEBAR_LIMIT]:
        day = timezone.localdate(conversation.last_activity_at)
        key = "Today" if day == today else "Yesterday" if day == today - timedelta(days=1) else "Earlier"
        groups[key].append(conversation)
    return {"groups": [(name, items) for name, items in groups.items() if items], "q": q, "current": current}


def _llm_configured() -> bool:
    return bool(settings.LLM_BASE_URL or settings.LLM_API_KEY)


def _banners(cluster=None, any_sandbox: bool = False) -> dict:
    sandbox = settings.SANDBOX_CLUSTER or any_sandbox or (cluster is not None and cluster.is_sandbox)
    return {"banner_no_llm": not _llm_configured(), "banner_sandbox": sandbox}


@login_required
def chat_home_view(request: HttpRequest) -> HttpResponse:
    """The sidebar and a form to start a conversation: pick a cluster and a namespace, ask."""
    clusters = [
        {
            "id": str(cluster.pk),
            "org": org.slug,
            "label": f"{cluster.name} ({org.name})" if len(orgs) > 1 else cluster.name,
            "default_namespace": cluster.default_namespace,
            "namespaces": cluster.allowed_namespaces,
            "is_sandbox": cluster.is_sandbox,
        }
        for orgs in [list(org_list(user=request.user))]
        for org in orgs
        for cluster in cluster_list(user=request.user, org=org)
    ]
    context = {
        "sidebar": _sidebar(request),
        "clusters": clusters,
        "nav": "chat",
        **_banners(any_sandbox=any(c["is_sandbox"] for c in clusters)),
        **nav_context(request),
    }
    return render(request, "chats/home.html", context)


@login_required
def conversation_view(request: HttpRequest, conversation_id) -> HttpResponse:
    conversation = selectors.conversation_get_for_view(user=request.user, conversation_id=conversation_id)
    cluster, user = conversation.cluster, request.user
    can_manage = selectors.conversation_can_manage(user=user, conversation=conversation)
    page = {
        "id": str(conversation.pk),
        "title": conversation.title or "Untitled conversation",
        "user_id": str(user.pk),
        "can_ask": selectors.conversation_can_ask(user=user, conversation=conversation),
        "can_decide": cluster is not None and cluster_can_operate(user=user, cluster=cluster),
        # Undo of an executed change is asked like a change: the restoring call then waits for an approval.
        "can_change": cluster is not None
        and selectors.conversation_can_ask(user=user, conversation=conversation)
        and cluster_can_request_changes(user=user, cluster=cluster),
        "can_manage": can_manage,
        "messages": [
            {"id": str(m.pk), "role": m.role, "content": m.content, "run": str(m.run_id) if m.run_id else None}
            for m in selectors.message_list(user=user, conversation=conversation)
        ],
    }
    teams = []
    if can_manage and has_role(user=user, org=conversation.org, role=Role.VIEWER):
        teams = team_list(user=user, org=conversation.org).order_by("name")
    context = {
        "conversation": conversation,
        "page": page,
        "teams": teams,
        "sidebar": _sidebar(request, current=conversation.pk),
        "nav": "chat",
        **_banners(cluster),
        **nav_context(request, conversation.org),
    }
    return render(request, "chats/conversation.html", context)
