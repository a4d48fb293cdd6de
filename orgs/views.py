"""Server-rendered account and organisation pages. They parse, call a selector or a service, and render."""

import asyncio

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from orgs import forms, selectors, services, tool_catalog
from orgs.models import Invitation, Membership, Role, User
from orgs.services import tool_server_address
from orgs.services.tool_server_address import tool_server_url_check
from skyflo.client_ip import client_ip

MCP_TEST_TIMEOUT_S = 10
CONNECT_FAILED = "Could not open an MCP session with this tool server: check its URL, its token and that it is running."


def nav_context(request: HttpRequest, org=None) -> dict:
    """The org shown in the top bar and whether its Settings link is shown (admins and owners only)."""
    user = request.user
    org = org or (selectors.org_list(user=user).first() if user.is_authenticated else None)
    is_admin = org is not None and selectors.has_role(user=user, org=org, role=Role.ADMIN)
    return {"nav_org": org, "nav_is_admin": is_admin}


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, APIException):
        return str(exc.detail)
    return str(exc) or "Not allowed."


def _form_add_errors(form, exc: ValidationError) -> None:
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


# --- sign-in, setup, invitation, profile -----------------------------------------------------------------------


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if ok else ""


def login_view(request: HttpRequest) -> HttpResponse:
    if not User.objects.exists():
        return redirect("setup")
    if request.user.is_authenticated:
        return redirect(_safe_next(request) or settings.LOGIN_REDIRECT_URL)
    form = forms.LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.login_attempt(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
                via="web",
            )
        except APIException as exc:
            form.add_error(None, str(exc.detail))
            status = exc.status_code
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_safe_next(request) or settings.LOGIN_REDIRECT_URL)
    return render(request, "orgs/login.html", {"form": form, "next": _safe_next(request)}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


def setup_view(request: HttpRequest) -> HttpResponse:
    """First run: the first account becomes the owner of a new organisation. Gone once anyone exists."""
    if User.objects.exists():
        return redirect("login")
    form = forms.SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
                org_name=data["org_name"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _form_add_errors(form, exc)
        except PermissionDenied:
            return redirect("login")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("chat-home")
    return render(request, "orgs/setup.html", {"form": form})


def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    """Sign up (or sign in) and accept an invitation in one step."""
    invitation = Invitation.objects.select_related("org").filter(token_hash=Invitation.hash_token(token)).first()
    if invitation is None or not invitation.is_usable:
        return render(request, "orgs/invitation.html", {"invitation": None}, status=404)
    account_exists = User.objects.filter(email=invitation.email).exists()
    action = request.POST.get("action", "")
    form_class = forms.SigninForm if account_exists else forms.SignupForm
    form = form_class(request.POST if action in ("signin", "signup") else None)
    if request.method == "POST":
        try:
            response = _invitation_act(request, token, invitation, action, form)
        except (ValidationError, PermissionDenied, APIException, Http404) as exc:
            form.add_error(None, _error_text(exc))
        else:
            if response is not None:
                return response
    context = {"invitation": invitation, "form": form, "account_exists": account_exists}
    return render(request, "orgs/invitation.html", context)


def _invitation_act(request, token: str, invitation: Invitation, action: str, form):
    ip = client_ip(request)
    if action == "accept" and request.user.is_authenticated:
        services.invitation_accept(actor=request.user, token=token, ip=ip)
    elif action == "signup" and form.is_valid():
        data = form.cleaned_data
        user = services.user_register(
            email=invitation.email, password=data["password"], full_name=data["full_name"], invitation=token, ip=ip
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    elif action == "signin" and form.is_valid():
        user = services.login_attempt(email=invitation.email, password=form.cleaned_data["password"], ip=ip, via="web")
        services.invitation_accept(actor=user, token=token, ip=ip)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    else:
        return None
    messages.success(request, f"You joined {invitation.org.name}.")
    return redirect("chat-home")


@login_required
def profile_view(request: HttpRequest) -> HttpResponse:
    form = forms.ProfileForm(request.POST or None, initial={"full_name": request.user.full_name})
    if request.method == "POST" and form.is_valid():
        services.me_update(actor=request.user, full_name=form.cleaned_data["full_name"], ip=client_ip(request))
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return _profile_render(request, form, forms.PasswordChangeForm())


@login_required
@require_POST
def password_change_view(request: HttpRequest) -> HttpResponse:
    """Change one's password: every other session, token and WebSocket of the user ends; this session stays."""
    form = forms.PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            user = services.password_change(actor=request.user, ip=client_ip(request), **form.cleaned_data)
        except ValidationError as exc:
            _form_add_errors(form, exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, "Password changed. Your other sessions were signed out.")
            return redirect("profile")
    profile = forms.ProfileForm(initial={"full_name": request.user.full_name})
    return _profile_render(request, profile, form, status=400)


def _profile_render(request, form, password_form, status: int = 200) -> HttpResponse:
    memberships = list(Membership.objects.filter(user=request.user).select_related("org").order_by("org__name"))
    for membership in memberships:
        membership.is_admin = membership.has_role(Role.ADMIN)
    context = {
        "form": form,
        "password_form": password_form,
        "memberships": memberships,
        "nav": "profile",
        **nav_context(request),
    }
    return render(request, "orgs/profile.html", context, status=status)


# --- organisation settings (admins and owners) -----------------------------------------------------------------


def _settings_org(request: HttpRequest, slug: str):
    """The org if the user is an admin of it: 404 for non-members, 403 for viewers and operators."""
    org = selectors.org_get(user=request.user, slug=slug)
    selectors.membership_require(user=request.user, org=org, role=Role.ADMIN)
    return org


def _settings_render(request, org, tab: str, context: dict, status: int = 200) -> HttpResponse:
    base = {"org": org, "tab": tab, "nav": "settings", **nav_context(request, org)}
    return render(request, f"orgs/settings/{tab}.html", {**base, **context}, status=status)


def _run_action(request, call) -> bool:
    """Call a service; report its refusal as a message. True when it succeeded."""
    try:
        call()
    except (ValidationError, PermissionDenied, APIException, Http404) as exc:
        messages.error(request, _error_text(exc))
        return False
    return True


@login_required
def settings_members_view(request: HttpRequest, slug: str) -> HttpResponse:
    org = _settings_org(request, slug)
    if request.method == "POST":
        membership = selectors.member_get(user=request.user, org=org, membership_id=request.POST.get("membership"))
        ip = client_ip(request)
        if request.POST.get("action") == "remove":
            done = _run_action(
                request, lambda: services.member_remove(actor=request.user, membership=membership, ip=ip)
            )
        else:
            form = forms.RoleForm(request.POST)
            role = form.cleaned_data["role"] if form.is_valid() else ""
            done = _run_action(
                request,
                lambda: services.member_role_change(actor=request.user, membership=membership, role=role, ip=ip),
            )
        if done:
            messages.success(request, "Members updated.")
        return redirect("org-settings", slug=org.slug)
    members = selectors.member_list(user=request.user, org=org).select_related("user").order_by("user__email")
    return _settings_render(request, org, "members", {"members": members, "roles": Role.choices})


@login_required
def settings_invitations_view(request: HttpRequest, slug: str) -> HttpResponse:
    org = _settings_org(request, slug)
    form = forms.InvitationForm(request.POST if request.POST.get("action") == "create" else None)
    created = None
    if request.method == "POST":
        ip = client_ip(request)
        if request.POST.get("action") == "revoke":
            invitation = selectors.invitation_get(user=request.user, org=org, invitation_id=request.POST.get("id"))
            if _run_action(request, lambda: services.invitation_revoke(actor=request.user, invitation=invitation)):
                messages.success(request, "Invitation revoked.")
            return redirect("org-settings-invitations", slug=org.slug)
        if form.is_valid():
            teams = selectors.team_list(user=request.user, org=org).filter(pk__in=request.POST.getlist("teams"))
            try:
                invitation, token = services.invitation_create(
                    actor=request.user, org=org, ip=ip, teams=list(teams), **form.cleaned_data
                )
            except (ValidationError, PermissionDenied, APIException) as exc:
                form.add_error(None, _error_text(exc))
            else:
                # The token is shown this once; only its hash is stored.
                created = {"invitation": invitation, "url": request.build_absolute_uri(f"/invitations/{token}/")}
                form = forms.InvitationForm()
    invitations = selectors.invitation_list(user=request.user, org=org).order_by("-created_at")
    teams = selectors.team_list(user=request.user, org=org).order_by("name")
    context = {"form": form, "invitations": invitations, "teams": teams, "created": created}
    return _settings_render(request, org, "invitations", context)


@login_required
def settings_teams_view(request: HttpRequest, slug: str) -> HttpResponse:
    org = _settings_org(request, slug)
    if request.method == "POST":
        _team_action(request, org)
        return redirect("org-settings-teams", slug=org.slug)
    teams = list(selectors.team_list(user=request.user, org=org).order_by("name"))
    for team in teams:
        team.member_rows = list(selectors.team_member_list(user=request.user, team=team).order_by("email"))
    members = selectors.member_list(user=request.user, org=org).select_related("user").order_by("user__email")
    return _settings_render(request, org, "teams", {"teams": teams, "members": members, "form": forms.TeamForm()})


def _team_action(request, org) -> None:
    action, ip, actor = request.POST.get("action"), client_ip(request), request.user
    if action == "create":
        form = forms.TeamForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["name"]
            _run_action(request, lambda: services.team_create(actor=actor, org=org, name=name, ip=ip))
        return
    team = selectors.team_get(user=actor, org=org, team_id=request.POST.get("team"))
    if action == "delete":
        _run_action(request, lambda: services.team_delete(actor=actor, team=team, ip=ip))
    elif action in ("add", "remove"):
        member = selectors.member_get(user=actor, org=org, membership_id=request.POST.get("membership"))
        service = services.team_member_add if action == "add" else services.team_member_remove
        _run_action(request, lambda: service(actor=actor, team=team, user=member.user, ip=ip))


@login_required
def settings_clusters_view(request: HttpRequest, slug: str) -> HttpResponse:
    org = _settings_org(request, slug)
    form = forms.ClusterForm(request.POST if request.POST.get("action") == "create" else None)
    if request.method == "POST":
        if request.POST.get("action") == "create":
            if form.is_valid():
                try:
                    services.cluster_create(actor=request.user, org=org, ip=client_ip(request), **form.cleaned_data)
                except (ValidationError, PermissionDenied, APIException) as exc:
                    _form_add_errors(form, exc) if isinstance(exc, ValidationError) else form.add_error(None, str(exc))
                else:
                    messages.success(request, "Cluster connected.")
                    return redirect("org-settings-clusters", slug=org.slug)
        else:
            _cluster_action(request, org)
            return redirect("org-settings-clusters", slug=org.slug)
    clusters = list(selectors.cluster_list(user=request.user, org=org))
    for cluster in clusters:
        cluster.grants = selectors.cluster_grant_list(user=request.user, cluster=cluster)
    context = {
        "clusters": clusters,
        "form": form,
        "teams": selectors.team_list(user=request.user, org=org).order_by("name"),
        "members": selectors.member_list(user=request.user, org=org).select_related("user").order_by("user__email"),
    }
    return _settings_render(request, org, "clusters", context)


def _cluster_action(request, org) -> None:
    action, ip, actor = request.POST.get("action"), client_ip(request), request.user
    cluster = selectors.cluster_get(user=actor, org=org, cluster_id=request.POST.get("cluster"))
    if action == "delete":
        _run_action(request, lambda: services.cluster_delete(actor=actor, cluster=cluster, ip=ip))
    elif action == "tools":
        form = forms.ClusterToolListsForm(request.POST)
        if form.is_valid():
            lists = form.cleaned_data
            _run_action(request, lambda: services.cluster_update(actor=actor, cluster=cluster, ip=ip, **lists))
    elif action == "identity":
        form = forms.ClusterIdentityForm(request.POST)
        if form.is_valid():
            identity = form.cleaned_data
            _run_action(request, lambda: services.cluster_update(actor=actor, cluster=cluster, ip=ip, **identity))
    elif action == "revoke":
        grant_id = request.POST.get("grant")
        _run_action(request, lambda: services.cluster_grant_delete(actor=actor, cluster=cluster, grant_id=grant_id))
    elif action == "grant":
        kind, _, holder_id = request.POST.get("holder", "").partition(":")
        permission = request.POST.get("permission", "")
        holder = {}
        if kind == "team":
            holder["team"] = selectors.team_get(user=actor, org=org, team_id=holder_id)
        else:
            holder["user"] = selectors.member_get(user=actor, org=org, membership_id=holder_id).user
        _run_action(
            request,
            lambda: services.cluster_grant_create(actor=actor, cluster=cluster, permission=permission, ip=ip, **holder),
        )


@login_required
def cluster_tools_view(request: HttpRequest, slug: str, cluster_id) -> HttpResponse:
    """The cluster's MCP tools with their annotations and the approval each gets (admins; lists tools only)."""
    org = _settings_org(request, slug)
    cluster = selectors.cluster_get(user=request.user, org=org, cluster_id=cluster_id)
    try:
        tools, error = tool_catalog.cluster_tool_catalog(cluster), None
    except tool_catalog.ToolServerUnreachable:
        tools, error = [], CONNECT_FAILED
    return _settings_render(request, org, "cluster_tools", {"cluster": cluster, "tools": tools, "error": error})


@login_required
@require_POST
def cluster_test_view(request: HttpRequest, slug: str, cluster_id) -> JsonResponse:
    """Open an MCP session to the cluster's tool server and list its tools (admins; read-only)."""
    org = _settings_org(request, slug)
    cluster = selectors.cluster_get(user=request.user, org=org, cluster_id=cluster_id)
    try:
        tool_server_url_check(cluster.mcp_server_url)  # again: the host may resolve elsewhere than at save
    except ValidationError:
        return JsonResponse({"ok": False, "detail": tool_server_address.REFUSED})
    try:
        tools = async_to_sync(_mcp_tool_names)(cluster.mcp_server_url, cluster.mcp_server_token)
    except Exception:  # noqa: BLE001 — one sentence for every failure: the reason would map the network
        return JsonResponse({"ok": False, "detail": CONNECT_FAILED})
    return JsonResponse({"ok": True, "tools": tools})


async def _mcp_tool_names(url: str, token: str) -> list[str]:
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with asyncio.timeout(MCP_TEST_TIMEOUT_S):
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.list_tools()
    return sorted(tool.name for tool in result.tools)


# --- the organisation's model connection ----------------------------------------------------------------------


@login_required
def settings_model_view(request: HttpRequest, slug: str) -> HttpResponse:
    org = _settings_org(request, slug)
    connection = selectors.model_connection_get(user=request.user, org=org)
    action = request.POST.get("action")
    initial = {f: getattr(connection, f) for f in ("base_url", "model", "api_version")} if connection else {}
    form = forms.ModelConnectionForm(request.POST if action == "save" else None, initial=initial)
    if action == "save" and form.is_valid():
        try:
            services.model_connection_set(actor=request.user, org=org, ip=client_ip(request), **form.cleaned_data)
        except ValidationError as exc:
            _form_add_errors(form, exc)
        else:
            messages.success(request, "Model connection saved.")
            return redirect("org-settings-model", slug=org.slug)
    elif action == "reset":
        _run_action(
            request, lambda: services.model_connection_delete(actor=request.user, org=org, ip=client_ip(request))
        )
        return redirect("org-settings-model", slug=org.slug)
    context = {"form": form, "connection": connection, "environment_model": settings.LLM_MODEL}
    return _settings_render(request, org, "model", context)


@login_required
@require_POST
def model_test_view(request: HttpRequest, slug: str) -> JsonResponse:
    """One tiny request to the org's model: what the endpoint supports (admins)."""
    from orgs.api.model import model_probe

    org = _settings_org(request, slug)
    connection = selectors.model_connection_get(user=request.user, org=org)
    return JsonResponse(async_to_sync(model_probe)(selectors.model_endpoint(connection)))
