import hashlib
import secrets
import string
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, Group, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from mcp_server.identity import MIN_KEY_CHARS
from orgs.crypto import secret_decrypt, secret_encrypt
from orgs.signals import user_password_changed

dns_label = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", "Must be a DNS-1123 label: lowercase letters, digits and '-'."
)
# MCP tool names (spec 2025-11-25): 1-128 characters of A-Z a-z 0-9 _ - .
TOOL_NAME = RegexValidator(r"^[A-Za-z0-9_.-]{1,128}$", "Tool names are 1-128 letters, digits, '_', '-' or '.'.")
TOOL_LIST_MAX = 200


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields):
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    def __str__(self) -> str:
        return self.email

    def set_password(self, raw_password) -> None:
        super().set_password(raw_password)
        self._password_set = True

    def save(self, *args, **kwargs) -> None:
        changed = getattr(self, "_password_set", False) and not self._state.adding
        self._password_set = False
        super().save(*args, **kwargs)
        if changed:
            user_password_changed.send(sender=User, user=self)


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=63, unique=True, validators=[dns_label])
    four_eyes = models.BooleanField(
        default=False, help_text="When on, nobody may approve a change they requested themselves."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Granted per team (guardian, on the organisation) to people below admin, e.g. a team's manager.
        permissions = [("view_insights", "Can see the organisation's insights (usage, cost, approvals)")]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} as {self.role}"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


class Team(models.Model):
    """A team is backed by a Django Group so django-guardian can grant it object permissions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="uniq_team_name")]

    def __str__(self) -> str:
        return f"{self.org.slug}/{self.name}"

    @property
    def members(self):
        return self.group.user_set.all()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    teams = models.ManyToManyField(Team, blank=True, related_name="invitations")
    # Only a hash is stored: the token itself is shown once, to the inviter.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.email} → {self.org} ({self.role})"

    @staticmethod
    def new_token() -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, _hash_token(token)

    @staticmethod
    def hash_token(token: str) -> str:
        return _hash_token(token)

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class ClusterConnection(models.Model):
    class Kind(models.TextChoices):
        SKYFLO = "skyflo", "Skyflo tool server"
        MCP = "mcp", "Other MCP server (streamable HTTP)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="clusters")
    name = models.CharField(max_length=63, validators=[dns_label])
    mcp_server_url = models.URLField(max_length=500)
    mcp_token_encrypted = models.TextField(blank=True, editable=False)
    default_namespace = models.CharField(max_length=63, default="default", validators=[dns_label])
    allowed_namespaces = models.JSONField(default=list, blank=True)
    read_only = models.BooleanField(default=False)
    is_sandbox = models.BooleanField(default=False, help_text="The simulated cluster of the embedded demo.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SKYFLO)
    # Tool names an admin lets the model see: when tool_allow is set only those; never those in tool_deny.
    tool_allow = models.JSONField(default=list, blank=True)
    tool_deny = models.JSONField(default=list, blank=True)
    # "Act as the person" (orgs/impersonation.py): the tool server runs each call as the asker's Kubernetes identity.
    impersonate = models.BooleanField(default=False)
    impersonation_key_encrypted = models.TextField(blank=True, editable=False)
    impersonation_user = models.CharField(max_length=200, default="{email}")
    impersonation_group = models.CharField(max_length=200, default="skyflo:team:{team}", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="uniq_cluster_name")]
        permissions = [
            ("use_cluster", "Can chat with read-only tools on the cluster"),
            ("operate_cluster", "Can approve changes on the cluster"),
        ]

    def __str__(self) -> str:
        return f"{self.org.slug}/{self.name}"

    def clean(self) -> None:
        # The namespaces reach the agent's system prompt and kubectl's arguments: labels only.
        names = self.allowed_namespaces
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValidationError({"allowed_namespaces": "A list of namespace names."})
        for name in names:
            try:
                dns_label(name)
            except ValidationError:
                raise ValidationError({"allowed_namespaces": f"{name[:70]!r}: {dns_label.message}"}) from None
        for field in ("tool_allow", "tool_deny"):
            _tool_names_check(field, getattr(self, field))
        both = set(self.tool_allow) & set(self.tool_deny)
        if both:
            raise ValidationError({"tool_deny": f"Both allowed and denied: {', '.join(sorted(both)[:5])}."})
        problems = _impersonation_problems(self)
        if problems:
            raise ValidationError(problems)

    def tool_offered(self, name: str) -> bool:
        """Whether the admin's lists let the model see the tool `name`."""
        return name not in self.tool_deny and (not self.tool_allow or name in self.tool_allow)

    @property
    def mcp_server_token(self) -> str:
        return secret_decrypt(self.mcp_token_encrypted)

    @mcp_server_token.setter
    def mcp_server_token(self, value: str) -> None:
        self.mcp_token_encrypted = secret_encrypt(value)

    @property
    def impersonation_key(self) -> str:
        """The key this connection shares with its tool server's MCP_IMPERSONATION_KEY (signs identity assertions)."""
        return secret_decrypt(self.impersonation_key_encrypted) if self.impersonation_key_encrypted else ""

    @impersonation_key.setter
    def impersonation_key(self, value: str) -> None:
        self.impersonation_key_encrypted = secret_encrypt(value) if value else ""


def _tool_names_check(field: str, names) -> None:
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValidationError({field: "A list of tool names."})
    if len(names) > TOOL_LIST_MAX:
        raise ValidationError({field: f"At most {TOOL_LIST_MAX} tool names."})
    for name in names:
        try:
            TOOL_NAME(name)
        except ValidationError:
            raise ValidationError({field: f"{name[:70]!r}: {TOOL_NAME.message}"}) from None


class AuditEvent(models.Model):
    """Append-only record of security-relevant actions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    org_slug = models.CharField(max_length=63, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_email} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit events are append-only")


class ModelConnection(models.Model):
    """The organisation's own model endpoint (any OpenAI-compatible API). Without one, its runs use the model of the
    environment (LLM_BASE_URL, LLM_API_KEY, LLM_MODEL). The key is stored encrypted like the cluster tokens."""

    org = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="model_connection"
    )
    base_url = models.URLField(max_length=500)
    model = models.CharField(max_length=200)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_version = models.CharField(max_length=40, blank=True, help_text="Azure OpenAI only: the api-version.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.org.slug}: {self.model}"

    @property
    def api_key(self) -> str:
        return secret_decrypt(self.api_key_encrypted)

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.api_key_encrypted = secret_encrypt(value)


class ModelPrice(models.Model):
    """An organisation's own token prices for one model, over the defaults of orgs/pricing.py (USD per 1M tokens)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="model_prices")
    model = models.CharField(max_length=200)
    input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    cached_input_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, help_text="Empty: the input price."
    )
    output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "model"], name="uniq_model_price")]

    def __str__(self) -> str:
        return f"{self.org.slug}: {self.model}"


class Budget(models.Model):
    """A monthly limit of tokens or of cost (USD) for an organisation (team empty) or one of its teams."""

    class Kind(models.TextChoices):
        TOKENS = "tokens", "Tokens"
        COST = "cost", "Cost (USD)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="budgets")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    monthly_limit = models.DecimalField(max_digits=18, decimal_places=6)
    # The first day of the month whose 80 % notice was given, so that it is given once a month.
    warned_month = models.DateField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "team"], name="uniq_team_budget"),
            models.UniqueConstraint(fields=["org"], condition=models.Q(team__isnull=True), name="uniq_org_budget"),
        ]

    def __str__(self) -> str:
        return f"{self.org.slug}/{self.team.name if self.team_id else '*'}: {self.monthly_limit} {self.kind}/month"


USER_PLACEHOLDERS = {"email", "id"}
GROUP_PLACEHOLDERS = {"team"}


def _placeholders(template: str) -> set[str] | None:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        return None


def _impersonation_problems(cluster) -> dict[str, str]:
    """Field errors of the connection's "act as the person" settings (ClusterConnection.clean)."""
    problems = {}
    for field, allowed in (("impersonation_user", USER_PLACEHOLDERS), ("impersonation_group", GROUP_PLACEHOLDERS)):
        names = _placeholders(getattr(cluster, field))
        if names is None or not names <= allowed:
            problems[field] = f"Use only the placeholders {', '.join('{' + n + '}' for n in sorted(allowed))}."
    if not cluster.impersonation_user.strip():
        problems["impersonation_user"] = "Give the Kubernetes user name, e.g. {email}."
    key = cluster.impersonation_key
    if cluster.impersonate and len(key) < MIN_KEY_CHARS:
        problems["impersonate"] = (
            f"Acting as the person needs the key (at least {MIN_KEY_CHARS} characters) that the tool server "
            "has in MCP_IMPERSONATION_KEY."
        )
    if cluster.impersonate and cluster.kind != cluster.Kind.SKYFLO:
        problems["impersonate"] = "Only Skyflo's tool server can act as the person; another MCP server cannot."
    return problems
