from django.urls import path

from orgs.api import auth, clusters, invitations, model, orgs, teams

ORG = "orgs/<slug:slug>/"
TEAM = ORG + "teams/<uuid:team_id>/"
CLUSTER = ORG + "clusters/<uuid:cluster_id>/"

urlpatterns = [
    path("auth/register/", auth.RegisterView.as_view(), name="auth-register"),
    path("auth/token/", auth.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh/", auth.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout/", auth.LogoutView.as_view(), name="auth-logout"),
    path("auth/me/", auth.MeView.as_view(), name="auth-me"),
    path("auth/password/", auth.PasswordView.as_view(), name="auth-password"),
    path("orgs/", orgs.OrgListView.as_view(), name="org-list"),
    path(ORG, orgs.OrgDetailView.as_view(), name="org-detail"),
    path(ORG + "transfer-ownership/", orgs.OwnershipTransferView.as_view(), name="org-transfer-ownership"),
    path(ORG + "members/", orgs.MemberListView.as_view(), name="member-list"),
    path(ORG + "members/<uuid:member_id>/", orgs.MemberDetailView.as_view(), name="member-detail"),
    path(ORG + "teams/", teams.TeamListView.as_view(), name="team-list"),
    path(TEAM, teams.TeamDetailView.as_view(), name="team-detail"),
    path(TEAM + "members/", teams.TeamMemberListView.as_view(), name="team-member-list"),
    path(TEAM + "members/<uuid:user_id>/", teams.TeamMemberDetailView.as_view(), name="team-member-detail"),
    path(ORG + "invitations/", invitations.InvitationListView.as_view(), name="invitation-list"),
    path(
        ORG + "invitations/<uuid:invitation_id>/", invitations.InvitationDetailView.as_view(), name="invitation-detail"
    ),
    path("invitations/<str:token>/accept/", invitations.InvitationAcceptView.as_view(), name="invitation-accept"),
    path(ORG + "clusters/", clusters.ClusterListView.as_view(), name="cluster-list"),
    path(CLUSTER, clusters.ClusterDetailView.as_view(), name="cluster-detail"),
    path(CLUSTER + "tools/", clusters.ClusterToolsView.as_view(), name="cluster-tools"),
    path(CLUSTER + "grants/", clusters.GrantListView.as_view(), name="grant-list"),
    path(CLUSTER + "grants/<uuid:grant_id>/", clusters.GrantDetailView.as_view(), name="grant-detail"),
    path(ORG + "audit/", clusters.AuditListView.as_view(), name="audit-list"),
    path(ORG + "model/", model.ModelConnectionView.as_view(), name="model-connection"),
    path(ORG + "model/test/", model.ModelConnectionTestView.as_view(), name="model-connection-test"),
]
