from django.urls import path

from orgs import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("setup/", views.setup_view, name="setup"),
    path("invitations/<str:token>/", views.invitation_view, name="invitation-accept"),
    path("profile/", views.profile_view, name="profile"),
    path("profile/password/", views.password_change_view, name="profile-password"),
    path("orgs/<slug:slug>/settings/", views.settings_members_view, name="org-settings"),
    path("orgs/<slug:slug>/settings/invitations/", views.settings_invitations_view, name="org-settings-invitations"),
    path("orgs/<slug:slug>/settings/teams/", views.settings_teams_view, name="org-settings-teams"),
    path("orgs/<slug:slug>/settings/clusters/", views.settings_clusters_view, name="org-settings-clusters"),
    path("orgs/<slug:slug>/settings/model/", views.settings_model_view, name="org-settings-model"),
    path("orgs/<slug:slug>/settings/model/test/", views.model_test_view, name="org-settings-model-test"),
    path(
        "orgs/<slug:slug>/settings/clusters/<uuid:cluster_id>/tools/",
        views.cluster_tools_view,
        name="org-settings-cluster-tools",
    ),
    path(
        "orgs/<slug:slug>/settings/clusters/<uuid:cluster_id>/test/",
        views.cluster_test_view,
        name="org-settings-cluster-test",
    ),
]
