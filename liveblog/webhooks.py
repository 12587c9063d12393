"""Webhook endpoints: create, delete, pause, resume, redeliver, list; seal and sign secrets.

Imports nothing from Flask; the CLI (`cli_webhooks.py`), the desk's admin page
(`views/webhooks.py`) and the dispatcher (`dispatcher.py`) call it. A secret is shown once,
at creation; the row keeps it sealed (AES-GCM under a key derived from the app's secret
key), since every delivery must be signed with it. Rotating `LIVEBLOG_SECRET_KEY` therefore
leaves existing endpoints unable to sign: delete and create them again. Signatures are the
`standardwebhooks` library's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook as Signer

from .db import Database
from .endpoints import EndpointRefused, resolve
from .errors import N_, Invalid, NotFound
from .models import Story, Webhook, WebhookAttempt, WebhookCursor, WebhookState, utcnow

ATTEMPTS_KEPT = 50  # delivery-log entries kept per endpoint
_SEAL_CONTEXT = b"liveblog webhook secrets v1\x00"


def allow_private() -> bool:
    """Tell whether LIVEBLOG_WEBHOOK_ALLOW_PRIVATE=1 lets endpoints use private addresses."""
    return os.environ.get("LIVEBLOG_WEBHOOK_ALLOW_PRIVATE", "") == "1"


def _seal_key(app_secret: str) -> bytes:
    return hashlib.sha256(_SEAL_CONTEXT + app_secret.encode()).digest()


def seal(secret: str, app_secret: str) -> str:
    """Encrypt a signing secret for storage."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_seal_key(app_secret)).encrypt(nonce, secret.encode(), b"webhook")
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def unseal(stored: str, app_secret: str) -> str:
    """Decrypt a stored signing secret; raise ValueError if the key does not open it."""
    if not stored.startswith("v1:"):
        raise ValueError("unknown secret format")
    raw = base64.b64decode(stored[3:])
    try:
        return AESGCM(_seal_key(app_secret)).decrypt(raw[:12], raw[12:], b"webhook").decode()
    except InvalidTag as error:
        raise ValueError("the secret key does not open this webhook's secret") from error


def new_secret() -> str:
    """Return a fresh Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, at: datetime, body: str) -> str:
    """Return the `webhook-signature` value for one delivery."""
    signature: str = Signer(secret).sign(msg_id, at, body)
    return signature


def _story_id(session: Session, slug: str) -> int:
    story_id = session.scalar(select(Story.id).where(Story.slug == slug))
    if story_id is None:
        raise NotFound(N_("There is no story at this address."))
    return story_id


def _webhook(session: Session, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(N_("There is no webhook %(id)s."), id=webhook_id)
    return hook


def create_webhook(
    db: Database, app_secret: str, url: str, slug: str | None = None, created_by: str = ""
) -> tuple[int, str]:
    """Add an endpoint for one story (or all); return its id and its secret (shown once)."""
    try:
        resolve(url, allow_private=allow_private())
    except EndpointRefused as error:
        raise Invalid(
            "url", N_("This URL cannot receive webhooks: %(reason)s"), reason=str(error)
        ) from None
    secret = new_secret()
    with db.write() as session:
        hook = Webhook(
            url=url.strip(),
            story_id=_story_id(session, slug) if slug else None,
            secret=seal(secret, app_secret),
            created_by=created_by,
        )
        session.add(hook)
        session.flush()
        return hook.id, secret


def delete_webhook(db: Database, webhook_id: int) -> None:
    """Remove an endpoint with its cursors and delivery log: nothing more is sent to it."""
    with db.write() as session:
        session.delete(_webhook(session, webhook_id))


def set_paused(db: Database, webhook_id: int, *, paused: bool, reason: str = "") -> None:
    """Pause an endpoint, or resume it (its failures forgotten, delivery at once)."""
    with db.write() as session:
        hook = _webhook(session, webhook_id)
        hook.state = WebhookState.PAUSED if paused else WebhookState.ACTIVE
        hook.paused_at = utcnow() if paused else None
        hook.pause_reason = reason if paused else ""
        if not paused:
            hook.failing_since = None
            hook.failures = 0
            hook.next_attempt_at = None


def redeliver(db: Database, webhook_id: int, seq: int, slug: str | None = None) -> None:
    """Send events again from `seq` on (of one story, or of every story the endpoint gets)."""
    if seq < 1:
        raise Invalid("seq", N_("The seq to redeliver from must be 1 or more."))
    with db.write() as session:
        hook = _webhook(session, webhook_id)
        story_id = _story_id(session, slug) if slug else hook.story_id
        if hook.story_id is not None and story_id != hook.story_id:
            raise Invalid("story", N_("This webhook receives another story's events."))
        query = (
            select(Story.id) if story_id is None else select(Story.id).where(Story.id == story_id)
        )
        for sid in session.scalars(query).all():
            cursor = session.get(WebhookCursor, (hook.id, sid))
            if cursor is None:
                session.add(WebhookCursor(webhook_id=hook.id, story_id=sid, seq=seq - 1))
            else:
                cursor.seq = min(cursor.seq, seq - 1)
        hook.next_attempt_at = None


@dataclass(frozen=True)
class EndpointView:
    """One endpoint as the desk and the CLI show it."""

    id: int
    url: str
    story: str | None
    state: str  # active, failing or paused
    cursor: dict[str, int]
    failing_since: datetime | None
    paused_at: datetime | None
    pause_reason: str
    created_at: datetime
    created_by: str
    attempts: list[WebhookAttempt]


def state_of(hook: Webhook) -> str:
    """Return `paused`, `failing` or `active`."""
    if hook.state is WebhookState.PAUSED:
        return "paused"
    return "failing" if hook.failing_since is not None else "active"


def list_webhooks(db: Database, attempts: int = 10) -> list[EndpointView]:
    """Return every endpoint with its state, cursors and newest attempts."""
    with db.read() as session:
        hooks = session.scalars(select(Webhook).order_by(Webhook.id)).all()
        views = []
        for hook in hooks:
            rows = session.execute(
                select(Story.slug, WebhookCursor.seq)
                .join(Story, Story.id == WebhookCursor.story_id)
                .where(WebhookCursor.webhook_id == hook.id)
                .order_by(Story.slug)
            ).all()
            views.append(
                EndpointView(
                    id=hook.id,
                    url=hook.url,
                    story=hook.story.slug if hook.story else None,
                    state=state_of(hook),
                    cursor={str(slug): int(seq) for slug, seq in rows},
                    failing_since=hook.failing_since,
                    paused_at=hook.paused_at,
                    pause_reason=hook.pause_reason,
                    created_at=hook.created_at,
                    created_by=hook.created_by,
                    attempts=list(
                        session.scalars(
                            select(WebhookAttempt)
                            .where(WebhookAttempt.webhook_id == hook.id)
                            .order_by(WebhookAttempt.id.desc())
                            .limit(attempts)
                        )
                    ),
                )
            )
        return views


def record_attempt(session: Session, attempt: WebhookAttempt) -> None:
    """Add an attempt to the delivery log, dropping all but the newest few."""
    session.add(attempt)
    session.flush()
    count = session.scalar(
        select(func.count()).where(WebhookAttempt.webhook_id == attempt.webhook_id)
    )
    if count and count > ATTEMPTS_KEPT:
        cutoff = session.scalar(
            select(WebhookAttempt.id)
            .where(WebhookAttempt.webhook_id == attempt.webhook_id)
            .order_by(WebhookAttempt.id.desc())
            .offset(ATTEMPTS_KEPT)
            .limit(1)
        )
        session.execute(
            delete(WebhookAttempt).where(
                WebhookAttempt.webhook_id == attempt.webhook_id, WebhookAttempt.id <= cutoff
            )
        )
