"""Partner keys: read-only keys for the feeds, the events endpoint and the live stream.

Imports nothing from Flask. A key is `lbk_` + 43 random URL-safe characters, shown once and
stored as its SHA-256 (like API tokens). A key never authorizes a write: it is no API
token, and the API refuses one by its prefix (`is_partner_key`). Revoking works by name:
every live key of that name ends at once; a new key may then take the name again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .db import Database
from .errors import N_, Conflict, Invalid, NotFound
from .models import PartnerKey, PartnerKeyUsage, utcnow

KEY_PREFIX = "lbk_"
MAX_RATE = 1_000_000
#: Days of usage the admin page shows.
USAGE_DAYS = 7


def hash_key(key: str) -> str:
    """Return the stored form of a partner key."""
    return hashlib.sha256(key.encode()).hexdigest()


def is_partner_key(token: str) -> bool:
    """Tell whether a credential is shaped like a partner key (and so can never write)."""
    return token.startswith(KEY_PREFIX)


def valid_name(name: str) -> str:
    """Return the stripped name, or refuse one that is empty, too long or unprintable."""
    name = name.strip()
    if not 0 < len(name) <= 64 or not name.isprintable():
        raise Invalid("name", N_("The partner's name must be 1 to 64 characters."))
    return name


def valid_rate(rate: int) -> int:
    """Return the rate, or refuse one outside 1..1,000,000 requests a minute."""
    if not 1 <= rate <= MAX_RATE:
        raise Invalid("rate", N_("The rate must be 1 to 1,000,000 requests a minute."))
    return rate


def create_key(db: Database, name: str, rate: int) -> str:
    """Issue a key for a partner and return it (shown once, never stored)."""
    name, rate = valid_name(name), valid_rate(rate)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with db.write() as session:
        taken = session.scalar(
            select(PartnerKey.id).where(PartnerKey.name == name, PartnerKey.revoked_at.is_(None))
        )
        if taken is not None:
            raise Conflict(N_("The partner '%(name)s' already has a key."), name=name)
        session.add(PartnerKey(name=name, key_hash=hash_key(key), rate_per_minute=rate))
    return key


def revoke_key(db: Database, name: str) -> int:
    """Revoke every live key of a partner; refuse a name that has none."""
    with db.write() as session:
        result = session.execute(
            update(PartnerKey)
            .where(PartnerKey.name == name.strip(), PartnerKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        count = int(getattr(result, "rowcount", 0) or 0)
    if not count:
        raise NotFound(N_("No partner key named '%(name)s'."), name=name)
    return count


def revoke_key_id(db: Database, key_id: int) -> str:
    """Revoke one key by its id; return its partner's name."""
    with db.write() as session:
        row = session.get(PartnerKey, key_id)
        if row is None:
            raise NotFound(N_("No partner key with the id '%(id)s'."), id=key_id)
        row.revoked_at = row.revoked_at or utcnow()
        return row.name


@dataclass(frozen=True)
class Grant:
    """A live key, as the request that carries it needs it."""

    id: int
    name: str
    rate: int
    #: Names the key's counters (in Redis too): the start of its hash, not its id, so
    #: two deployments (or test databases) sharing a Redis never share a counter.
    tag: str


def grant_for(session: Session, key: str) -> Grant | None:
    """Return the live key a secret names, or None (unknown, revoked or malformed)."""
    if not is_partner_key(key) or len(key) > 128:
        return None
    hashed = hash_key(key)
    row = session.execute(
        select(PartnerKey.id, PartnerKey.name, PartnerKey.rate_per_minute).where(
            PartnerKey.key_hash == hashed, PartnerKey.revoked_at.is_(None)
        )
    ).first()
    return Grant(row.id, row.name, row.rate_per_minute, hashed[:24]) if row else None


@dataclass(frozen=True)
class KeyView:
    """One key as the admin page lists it (never its secret)."""

    id: int
    name: str
    rate: int
    created_at: datetime
    revoked_at: datetime | None
    #: {day: {kind: requests}} for the last USAGE_DAYS days with any use, newest first.
    usage: dict[date, dict[str, int]]

    @property
    def total(self) -> int:
        """Return the requests counted over the days shown."""
        return sum(sum(kinds.values()) for kinds in self.usage.values())


def list_keys(db: Database, today: date | None = None) -> list[KeyView]:
    """Return every key, live ones first, with its usage over the last days."""
    since = (today or utcnow().date()) - timedelta(days=USAGE_DAYS - 1)
    with db.read() as session:
        usage: dict[int, dict[date, dict[str, int]]] = {}
        rows = session.execute(
            select(PartnerKeyUsage)
            .where(PartnerKeyUsage.day >= since)
            .order_by(PartnerKeyUsage.day.desc(), PartnerKeyUsage.kind)
        ).scalars()
        for row in rows:
            usage.setdefault(row.key_id, {}).setdefault(row.day, {})[row.kind] = row.count
        keys = session.scalars(
            select(PartnerKey).order_by(
                PartnerKey.revoked_at.is_not(None), func.lower(PartnerKey.name), PartnerKey.id
            )
        )
        return [
            KeyView(
                k.id, k.name, k.rate_per_minute, k.created_at, k.revoked_at, usage.get(k.id, {})
            )
            for k in keys
        ]
