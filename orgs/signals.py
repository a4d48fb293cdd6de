"""Signals of orgs. `user_password_changed` (kwargs: user) is sent when a changed password is saved, whichever
way it was changed (the API, the profile page, the admin's reset, `manage.py changepassword`); receivers end
what the old password opened: refresh tokens here, open WebSockets in chats."""

from django.dispatch import Signal

user_password_changed = Signal()
