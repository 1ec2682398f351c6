"""Deterministic, realistic French demo data: users, debtors, contacts, invoices and payments.

The same ``seed`` and ``today`` always give the same rows. Bulk rows are plain dicts inserted
with SQLAlchemy Core in batches, inside one transaction, with primary keys computed up front,
so 100,000 debtors and a million invoices load in minutes. Every phone number comes from the
ARCEP ranges reserved for fiction and every e-mail domain ends in ``.example``: nobody real is
ever dialled or written to.
"""

from __future__ import annotations

import math
import random
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import sqlalchemy as sa
from faker.providers.person.fr_FR import Provider as FrenchNames
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session
from stdnum import luhn

from callcenter.db import is_postgres
from callcenter.domain.accounts import create_user
from callcenter.domain.errors import DomainError
from callcenter.formatting import quantity
from callcenter.models import (
    Contact,
    Debtor,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
    Role,
    User,
)

DEMO_PASSWORD = "demo-relance"

DEBTORS_PER_BATCH = 1_000
HISTORY_DAYS = 425
MIN_INVOICE_CENTS = 5_000
MAX_INVOICE_CENTS = 5_000_000
VAT_RATE = 0.20

FICTION_LANDLINE_PREFIXES = ("+3319900", "+3326191", "+3335301", "+3346571", "+3353649")
FICTION_MOBILE_PREFIX = "+3363998"
EMAIL_TLD = ".example"

_USERS = (
    ("admin@demo.fr", "Isabelle Moreau", Role.ADMIN),
    ("superviseur@demo.fr", "Julien Marchand", Role.SUPERVISOR),
    ("agent1@demo.fr", "Sophie Lambert", Role.AGENT),
    ("agent2@demo.fr", "Karim Benali", Role.AGENT),
    ("agent3@demo.fr", "Élodie Fontaine", Role.AGENT),
    ("agent4@demo.fr", "Thomas Girard", Role.AGENT),
)

_ACTIVITIES = (
    "Transports",
    "Bâtiment",
    "Menuiserie",
    "Boulangerie",
    "Imprimerie",
    "Plomberie",
    "Électricité",
    "Logistique",
    "Conseil",
    "Informatique",
    "Distribution",
    "Garage",
    "Restauration",
    "Traiteur",
    "Métallerie",
    "Couverture",
    "Paysages",
    "Nettoyage",
    "Sécurité",
    "Agencement",
    "Emballages",
    "Matériaux",
    "Charpente",
    "Travaux publics",
    "Climatisation",
    "Automatismes",
    "Textiles",
    "Vins",
    "Fromagerie",
    "Mécanique",
    "Ingénierie",
    "Communication",
    "Événementiel",
    "Déménagements",
    "Carrosserie",
    "Quincaillerie",
    "Fournitures",
    "Froid industriel",
    "Chaudronnerie",
    "Usinage",
    "Plasturgie",
    "Peinture",
    "Isolation",
    "Maçonnerie",
    "Librairie",
    "Optique",
    "Ambulances",
    "Jardinerie",
    "Énergies",
    "Domotique",
)
_PLACES = (
    "du Rhône",
    "de Provence",
    "de l'Ouest",
    "du Nord",
    "d'Alsace",
    "de Bretagne",
    "du Sud-Ouest",
    "Atlantique",
    "des Alpes",
    "de Normandie",
    "du Val de Loire",
    "de Bourgogne",
    "du Languedoc",
    "de Picardie",
    "de Lorraine",
    "du Berry",
    "d'Auvergne",
    "de Savoie",
    "du Limousin",
    "de Gascogne",
    "Méditerranée",
    "d'Île-de-France",
    "de Champagne",
    "du Périgord",
    "des Vosges",
    "du Jura",
    "de Touraine",
    "des Landes",
)
_STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "boulevard Gambetta",
    "rue Victor Hugo",
    "rue du Général Leclerc",
    "allée des Tilleuls",
    "chemin des Vignes",
    "rue de l'Industrie",
    "zone artisanale des Près",
    "rue Pasteur",
    "avenue de la Gare",
    "place du Marché",
)
_TOWNS = (
    ("75011", "Paris"),
    ("69003", "Lyon"),
    ("13006", "Marseille"),
    ("31000", "Toulouse"),
    ("33000", "Bordeaux"),
    ("44000", "Nantes"),
    ("59000", "Lille"),
    ("67000", "Strasbourg"),
    ("35000", "Rennes"),
    ("21000", "Dijon"),
    ("37000", "Tours"),
    ("63000", "Clermont-Ferrand"),
)
_OVERSEAS_TOWNS = {
    "America/Guadeloupe": ("97110", "Pointe-à-Pitre"),
    "Indian/Reunion": ("97400", "Saint-Denis"),
    "America/Martinique": ("97200", "Fort-de-France"),
}
_LEGAL_FORMS = ("SAS", "SARL", "SASU", "EURL", "SA", "SNC", "SCOP")
_LEGAL_FORM_WEIGHTS = (38, 30, 12, 9, 7, 3, 1)
_OVERSEAS_TIME_ZONES = ("America/Guadeloupe", "Indian/Reunion", "America/Martinique")
_INSOLVENCIES = ("redressement judiciaire", "procédure de sauvegarde", "liquidation judiciaire")
_INSOLVENCY_WEIGHTS = (70, 20, 10)
_BILLING_ROLES = (
    "Comptabilité fournisseurs",
    "Service comptabilité",
    "Responsable comptable",
    "Direction administrative et financière",
)
_OTHER_ROLES = (
    ("Gérant", "Gérante"),
    ("Président", "Présidente"),
    ("Directeur administratif et financier", "Directrice administrative et financière"),
    ("Assistant de direction", "Assistante de direction"),
    ("Responsable achats", "Responsable achats"),
    ("Trésorier", "Trésorière"),
    ("Contrôleur de gestion", "Contrôleuse de gestion"),
)
_PAUSE_REASONS = (
    "Échéancier en cours de négociation",
    "Attente du bon de commande signé",
    "Validation interne chez le client",
    "Avoir en préparation",
    "Changement d'interlocuteur comptable",
)
_PAYMENT_METHODS = (
    ("virement", "VIR"),
    ("prélèvement", "PRLV"),
    ("chèque", "CHQ"),
    ("carte", "CB"),
)
_PAYMENT_METHOD_WEIGHTS = (80, 10, 7, 3)

_BULK_TABLES: tuple[sa.Table, ...] = (
    Debtor.__table__,
    Contact.__table__,
    Invoice.__table__,
    Payment.__table__,
    PaymentAllocation.__table__,
)
_OPEN = InvoiceStatus.OPEN.value
_PAID = InvoiceStatus.PAID.value
_LAST_NAMES = tuple(FrenchNames.last_names)
_FIRST_NAMES = (tuple(FrenchNames.first_names_male), tuple(FrenchNames.first_names_female))


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str
    full_name: str


@dataclass(frozen=True)
class DemoReport:
    debtors: int
    contacts: int
    invoices: int
    payments: int
    users: list[DemoLogin]
    seconds: float


@dataclass
class _Batch:
    debtors: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[sa.Table, list[dict[str, Any]]]]:
        """Parents before children, so foreign keys hold at every insert."""
        rows = (self.debtors, self.contacts, self.invoices, self.payments, self.allocations)
        yield from zip(_BULK_TABLES, rows, strict=True)


def generate_demo(
    engine: Engine,
    *,
    debtors: int,
    seed: int,
    today: date,
    invoices_per_debtor: float = 10.0,
    progress: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Fill an empty database with demo data; refuse a database that already holds debtors."""
    if debtors < 1:
        raise DomainError("Le nombre de débiteurs doit être au moins 1.", field="debtors")
    if invoices_per_debtor < 0:
        raise DomainError(
            "Le nombre moyen de factures par débiteur ne peut pas être négatif.",
            field="invoices_per_debtor",
        )
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        existing = session.execute(sa.select(sa.func.count()).select_from(Debtor)).scalar_one()
        if existing:
            raise DomainError(
                f"La base contient déjà des débiteurs : {quantity(existing, 'fiche')}. "
                "Les données de démonstration ne se chargent que dans une base vide."
            )
        users = _create_users(session, today)
        agent_ids = [user.id for user in users if user.role == Role.AGENT]
        connection = session.connection()
        generator = _Generator(
            random.Random(seed),
            today=today,
            invoices_per_debtor=invoices_per_debtor,
            agent_ids=agent_ids,
            first_ids=_first_ids(connection),
        )
        totals = dict.fromkeys(("debtors", "contacts", "invoices", "payments"), 0)
        done = 0
        while done < debtors:
            size = min(DEBTORS_PER_BATCH, debtors - done)
            batch = generator.batch(size)
            for table, rows in batch.tables():
                if rows:
                    connection.execute(sa.insert(table), rows)
            totals["debtors"] += len(batch.debtors)
            totals["contacts"] += len(batch.contacts)
            totals["invoices"] += len(batch.invoices)
            totals["payments"] += len(batch.payments)
            done += size
            if progress is not None:
                progress(done, debtors)
        if is_postgres(engine):
            _reset_sequences(connection)
        session.commit()
    return DemoReport(
        debtors=totals["debtors"],
        contacts=totals["contacts"],
        invoices=totals["invoices"],
        payments=totals["payments"],
        users=[DemoLogin(email, DEMO_PASSWORD, str(role), name) for email, name, role in _USERS],
        seconds=time.perf_counter() - started,
    )


def _create_users(session: Session, today: date) -> list[User]:
    """The demo team: one admin, one supervisor, four agents, all with the demo password."""
    created_at = datetime.combine(today - timedelta(days=HISTORY_DAYS + 30), clock(8), UTC)
    users = []
    for email, full_name, role in _USERS:
        user = create_user(
            session,
            email=email,
            full_name=full_name,
            role=role,
            password=DEMO_PASSWORD,
            now=created_at,
        )
        user.created_at = created_at
        users.append(user)
    session.flush()
    return users


def _first_ids(connection: Connection) -> dict[str, int]:
    """The next free primary key of every bulk table."""
    first = {}
    for table in _BULK_TABLES:
        highest = connection.execute(sa.select(sa.func.max(table.c.id))).scalar_one()
        first[table.name] = (highest or 0) + 1
    return first


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL sequences must move past the explicit ids, or the next ORM insert collides."""
    for table in _BULK_TABLES:
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), max(id)) "
            f"FROM {table.name} HAVING max(id) IS NOT NULL"
        )


def _ascii_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _address(debtor_id: int, time_zone: str) -> dict[str, str]:
    """A plausible French postal address, derived from the id (the random draws stay as they
    were, so the rest of the data does not move)."""
    postal_code, city = _OVERSEAS_TOWNS.get(time_zone) or _TOWNS[debtor_id % len(_TOWNS)]
    return {
        "address_line1": f"{debtor_id * 37 % 180 + 1} {_STREETS[debtor_id % len(_STREETS)]}",
        "postal_code": postal_code,
        "city": city,
        "country": "France",
    }


def _at(day: date, hour: int = 8) -> datetime:
    return datetime.combine(day, clock(hour), UTC)


class _Generator:
    """Draws every row from one seeded random stream, debtor after debtor."""

    def __init__(
        self,
        rng: random.Random,
        *,
        today: date,
        invoices_per_debtor: float,
        agent_ids: list[int],
        first_ids: dict[str, int],
    ) -> None:
        self.rng = rng
        self.today = today
        self.invoices_per_debtor = invoices_per_debtor
        self.agent_ids = agent_ids
        self.next_id = dict(first_ids)
        self.debtor_number = 0
        self.invoice_numbers: dict[int, int] = {}
        self.sirens: set[str] = set()
        self.domains: dict[str, int] = {}
        self.slugs = {
            name: _ascii_slug(name) for name in (*_LAST_NAMES, *_FIRST_NAMES[0], *_FIRST_NAMES[1])
        }
        landlines = [p + f"{n:04d}" for p in FICTION_LANDLINE_PREFIXES for n in range(10_000)]
        mobiles = [FICTION_MOBILE_PREFIX + f"{n:04d}" for n in range(10_000)]
        rng.shuffle(landlines)
        rng.shuffle(mobiles)
        self.landlines = landlines
        self.mobiles = mobiles
        self.landline_index = 0
        self.mobile_index = 0

    def _take_id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def batch(self, size: int) -> _Batch:
        batch = _Batch()
        for _ in range(size):
            self._debtor(batch)
        return batch

    def _company_name(self) -> tuple[str, str]:
        """A plausible French trade name and its legal form."""
        rng = self.rng
        pattern = rng.randrange(8)
        surname = rng.choice(_LAST_NAMES)
        activity = rng.choice(_ACTIVITIES)
        if pattern == 0:
            base = f"{activity} {surname}"
        elif pattern == 1:
            base = f"{surname} {activity}"
        elif pattern == 2:
            base = f"{activity} {rng.choice(_PLACES)}"
        elif pattern == 3:
            base = f"{surname} {rng.choice(('et Fils', 'Frères', '& Associés'))}"
        elif pattern == 4:
            base = f"{surname}-{rng.choice(_LAST_NAMES)}"
        elif pattern == 5:
            base = f"Groupe {surname}"
        elif pattern == 6:
            initials = "".join(rng.choice("ABCDEFGHJKLMNPRSTV") for _ in range(3))
            base = f"{initials} {activity}"
        else:
            base = f"Établissements {surname}"
        legal_form = rng.choices(_LEGAL_FORMS, _LEGAL_FORM_WEIGHTS)[0]
        if pattern == 5:
            legal_form = "SA"
        return base, legal_form

    def _siren(self) -> str:
        """A unique SIREN whose last digit is the Luhn check digit."""
        while True:
            body = str(self.rng.randrange(30_000_000, 99_999_999))
            number = body + luhn.calc_check_digit(body)
            if number not in self.sirens:
                self.sirens.add(number)
                return number

    def _domain(self, base: str) -> str:
        """A fictitious domain per debtor: the trade name, numbered when already taken."""
        slug = _ascii_slug(base)
        seen = self.domains.get(slug, 0) + 1
        self.domains[slug] = seen
        return f"{slug}{EMAIL_TLD}" if seen == 1 else f"{slug}-{seen}{EMAIL_TLD}"

    def _phone(self, mobile: bool) -> str:
        if mobile:
            number = self.mobiles[self.mobile_index % len(self.mobiles)]
            self.mobile_index += 1
        else:
            number = self.landlines[self.landline_index % len(self.landlines)]
            self.landline_index += 1
        return number

    def _debtor(self, batch: _Batch) -> None:
        rng = self.rng
        today = self.today
        debtor_id = self._take_id("debtors")
        self.debtor_number += 1
        base, legal_form = self._company_name()
        draw = rng.random()
        segment = "key_account" if draw < 0.05 else "small" if draw < 0.30 else "standard"
        draw = rng.random()
        if draw < 0.012:
            time_zone = _OVERSEAS_TIME_ZONES[0]
        elif draw < 0.024:
            time_zone = _OVERSEAS_TIME_ZONES[1]
        elif draw < 0.033:
            time_zone = _OVERSEAS_TIME_ZONES[2]
        else:
            time_zone = "Europe/Paris"
        if segment == "key_account":
            terms = rng.choices((30, 45, 60), (20, 30, 50))[0]
        else:
            terms = rng.choices((30, 45, 60), (85, 10, 5))[0]
        risk = min(100, int(rng.betavariate(1.6, 4.0) * 101))
        insolvency_status = None
        insolvency_date = None
        if rng.random() < 0.02:
            insolvency_status = rng.choices(_INSOLVENCIES, _INSOLVENCY_WEIGHTS)[0]
            insolvency_date = today - timedelta(days=rng.randrange(15, 300))
            risk = max(risk, 85)
        do_not_call = rng.random() < 0.02
        owner_id = rng.choice(self.agent_ids) if rng.random() < 0.85 else None
        siren = self._siren()
        domain = self._domain(base)

        first_issue = self._invoices(batch, debtor_id, segment, terms, risk, insolvency_date)
        created_on = (first_issue or today - timedelta(days=rng.randrange(HISTORY_DAYS))) - (
            timedelta(days=rng.randrange(1, 90))
        )
        created_at = _at(created_on, 7)
        batch.debtors.append(
            {
                "id": debtor_id,
                "account_code": f"411C{self.debtor_number:05d}",
                "name": f"{base} {legal_form}",
                "siren": siren,
                "segment": segment,
                "time_zone": time_zone,
                "language": "fr",
                "owner_id": owner_id,
                "payment_terms_days": terms,
                **_address(debtor_id, time_zone),
                "do_not_call": do_not_call,
                "insolvency_status": insolvency_status,
                "insolvency_date": insolvency_date,
                "risk": risk,
                "credit_cents": 0,
                "created_at": created_at,
                "updated_at": _at(insolvency_date, 9) if insolvency_date else created_at,
            }
        )
        self._contacts(batch, debtor_id, domain, created_at)

    def _contacts(self, batch: _Batch, debtor_id: int, domain: str, created_at: datetime) -> None:
        """One to three people; the first one receives the invoices."""
        rng = self.rng
        count = rng.choices((1, 2, 3), (45, 35, 20))[0]
        other_roles = rng.sample(_OTHER_ROLES, count - 1)
        for position in range(count):
            feminine = rng.random() < 0.5
            first = rng.choice(_FIRST_NAMES[feminine])
            last = rng.choice(_LAST_NAMES)
            is_billing = position == 0
            role = other_roles[position - 1][feminine] if position else rng.choice(_BILLING_ROLES)
            draw = rng.random()
            if draw < 0.05:
                phone = None
            elif draw < 0.08:
                phone = self._phone(mobile=True)
            else:
                phone = self._phone(mobile=False)
            mobile = self._phone(mobile=True) if rng.random() < 0.35 else None
            draw = rng.random()
            if draw < 0.03:
                email = None
            elif is_billing and draw < 0.30:
                email = f"comptabilite@{domain}"
            else:
                email = f"{self.slugs[first]}.{self.slugs[last]}@{domain}"
            batch.contacts.append(
                {
                    "id": self._take_id("contacts"),
                    "debtor_id": debtor_id,
                    "full_name": f"{first} {last}",
                    "civility": "Madame" if feminine else "Monsieur",
                    "role": role,
                    "phone": phone,
                    "mobile": mobile,
                    "email": email,
                    "is_billing": is_billing,
                    "email_opt_out": email is not None and rng.random() < 0.03,
                    "created_at": created_at,
                }
            )

    def _invoice_count(self, segment: str) -> int:
        """Key accounts get twice the average, small ones a bit more than half."""
        rng = self.rng
        weight = {"key_account": 2.0, "standard": 1.0, "small": 0.6}[segment]
        mean = self.invoices_per_debtor * weight / 0.95
        if mean < 1:
            return 1 if rng.random() < mean else 0
        return round(rng.uniform(1, 2 * mean - 1))

    def _amount(self, segment: str) -> int:
        """Log-normal amount including 20 % VAT, from 50 € to 50,000 €."""
        rng = self.rng
        median = {"key_account": 4_000.0, "standard": 1_100.0, "small": 350.0}[segment]
        net_euros = rng.lognormvariate(math.log(median), 1.0)
        net_cents = round(net_euros) * 100 if rng.random() < 0.5 else round(net_euros * 100)
        gross = round(net_cents * (1 + VAT_RATE))
        return min(MAX_INVOICE_CENTS, max(MIN_INVOICE_CENTS, gross))

    def _invoice_number(self, issue_date: date) -> str:
        sequence = self.invoice_numbers.get(issue_date.year, 0) + 1
        self.invoice_numbers[issue_date.year] = sequence
        return f"FA-{issue_date.year}-{sequence:06d}"

    def _invoices(
        self,
        batch: _Batch,
        debtor_id: int,
        segment: str,
        terms: int,
        risk: int,
        insolvency_date: date | None,
    ) -> date | None:
        """The debtor's invoices and payments; the riskier the debtor, the later it pays.

        Payment delay after the due date is exponential around a mean that grows with risk;
        a share of invoices, growing with risk, is never paid. Invoices issued before an
        insolvency judgment are frozen from that date. Returns the first issue date.
        """
        rng = self.rng
        today = self.today
        late_mean = 3 + risk * 0.9
        never_paid = 0.01 + (risk / 100) ** 3 * 0.5
        first_issue = None
        for _ in range(self._invoice_count(segment)):
            invoice_id = self._take_id("invoices")
            issue_date = today - timedelta(days=rng.randrange(HISTORY_DAYS))
            if first_issue is None or issue_date < first_issue:
                first_issue = issue_date
            due_date = issue_date + timedelta(days=terms)
            amount = self._amount(segment)
            number = self._invoice_number(issue_date)
            disputed = rng.random() < 0.025
            paid_on = None
            if not disputed and rng.random() >= never_paid:
                delay = int(rng.expovariate(1 / late_mean)) - rng.randrange(8)
                paid_on = max(issue_date + timedelta(days=1), due_date + timedelta(days=delay))
            frozen = insolvency_date is not None and issue_date <= insolvency_date
            if frozen and paid_on is not None and paid_on > insolvency_date:
                paid_on = None
            allocated = 0
            last_paid = issue_date
            if paid_on is not None and paid_on <= today:
                if paid_on > issue_date + timedelta(days=2) and rng.random() < 0.08:
                    first_part = int(round(amount * rng.uniform(0.3, 0.7), -2))
                    span = (paid_on - issue_date).days - 1
                    first_on = issue_date + timedelta(days=1 + rng.randrange(span))
                    self._payment(batch, debtor_id, invoice_id, number, first_on, first_part)
                    self._payment(
                        batch, debtor_id, invoice_id, number, paid_on, amount - first_part
                    )
                else:
                    self._payment(batch, debtor_id, invoice_id, number, paid_on, amount)
                allocated = amount
                last_paid = paid_on
            elif not disputed and not frozen and due_date < today and rng.random() < 0.18:
                part = max(100, int(round(amount * rng.uniform(0.2, 0.8), -2)))
                span = (today - issue_date).days
                part_on = issue_date + timedelta(days=1 + rng.randrange(span))
                self._payment(batch, debtor_id, invoice_id, number, part_on, part)
                allocated = part
                last_paid = part_on
            open_amount = amount - allocated
            paused_until = None
            pause_reason = None
            updated_on = last_paid
            if open_amount and not disputed and due_date < today and rng.random() < 0.03:
                paused_until = today + timedelta(days=rng.randrange(5, 46))
                pause_reason = rng.choice(_PAUSE_REASONS)
                updated_on = max(updated_on, today - timedelta(days=rng.randrange(10)))
            if disputed:
                updated_on = min(today, due_date + timedelta(days=rng.randrange(1, 20)))
            batch.invoices.append(
                {
                    "id": invoice_id,
                    "debtor_id": debtor_id,
                    "number": number,
                    "issue_date": issue_date,
                    "due_date": due_date,
                    "amount_cents": amount,
                    "open_amount_cents": open_amount,
                    "currency": "EUR",
                    "status": _OPEN if open_amount else _PAID,
                    "disputed": disputed,
                    "paused_until": paused_until,
                    "pause_reason": pause_reason,
                    "reminder_count": 0,
                    "dunning_stage": None,
                    "last_reminder_at": None,
                    "pdf_path": None,
                    "created_at": _at(issue_date, 6),
                    "updated_at": _at(max(updated_on, issue_date), 10),
                }
            )
        return first_issue

    def _payment(
        self,
        batch: _Batch,
        debtor_id: int,
        invoice_id: int,
        invoice_number: str,
        paid_on: date,
        amount: int,
    ) -> None:
        """One bank receipt, fully allocated to the invoice it names."""
        payment_id = self._take_id("payments")
        method, prefix = self.rng.choices(_PAYMENT_METHODS, _PAYMENT_METHOD_WEIGHTS)[0]
        batch.payments.append(
            {
                "id": payment_id,
                "debtor_id": debtor_id,
                "reference": f"{prefix}-{paid_on:%Y%m%d}-{payment_id:07d}",
                "paid_on": paid_on,
                "amount_cents": amount,
                "method": method,
                "invoice_reference": invoice_number,
                "unallocated_cents": 0,
                "unmatched": False,
                "created_at": _at(paid_on, 11),
            }
        )
        batch.allocations.append(
            {
                "id": self._take_id("payment_allocations"),
                "payment_id": payment_id,
                "invoice_id": invoice_id,
                "amount_cents": amount,
            }
        )
