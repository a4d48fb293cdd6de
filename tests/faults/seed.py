"""`python -m tests.faults.seed TOOLSERVER_URL TOOLSERVER_TOKEN NAMESPACE`: in the database of DATABASE_URL, an
org with two operators, a cluster on that tool server and a conversation in NAMESPACE; prints one JSON line with
their ids and bearer tokens (for a stack whose database the test process does not hold)."""

import json
import os
import sys

import django


def main(url: str, token: str, namespace: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skyflo.settings")
    django.setup()
    from guardian.shortcuts import assign_perm

    from chats.models import Conversation
    from orgs.models import Role
    from tests.accounts import make_cluster, make_member, make_org
    from tests.live import access_token

    org = make_org()
    operator, operator2 = make_member(org, Role.OPERATOR), make_member(org, Role.OPERATOR)
    cluster = make_cluster(org, url=url, token=token, default_namespace=namespace)
    conversation = Conversation.objects.create(org=org, cluster=cluster, owner=operator, namespace=namespace)
    for user in (operator, operator2):
        assign_perm("orgs.use_cluster", user, cluster)
        assign_perm("orgs.operate_cluster", user, cluster)
        assign_perm("chats.view_conversation", user, conversation)
        assign_perm("chats.ask_conversation", user, conversation)
    tokens = {"operator": access_token(operator), "operator2": access_token(operator2)}
    print(json.dumps({"conversation_id": str(conversation.id), **tokens}))  # noqa: T201


if __name__ == "__main__":
    main(*sys.argv[1:4])
