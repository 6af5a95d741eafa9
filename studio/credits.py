"""Credits: hold a job's cost when it is queued, refund it if the job fails.

The balance lives on the team row and changes only through a single conditional
UPDATE, so concurrent submissions can never take it below zero; every change writes
one ledger entry in the same transaction.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from accounts.models import Team

from .models import CreditEntry, Job


class InsufficientCredits(Exception):
    def __init__(self, needed: int, balance: int):
        self.needed, self.balance = needed, balance
        super().__init__(
            f"This needs {needed} credits and the team has {balance}. "
            "Lower the quality or the number of images, or ask an owner for more credits."
        )


def _balance(team_id) -> int:
    return Team.objects.values_list("credit_balance", flat=True).get(pk=team_id)


def _take(team_id, amount: int) -> int | None:
    """Take `amount` if the balance covers it and return the new balance; None if it does
    not. One statement, so no other submit can come between the check and the change;
    RETURNING (PostgreSQL, SQLite 3.35+) saves reading the balance again."""
    quote = connection.ops.quote_name
    pk = Team._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Team._meta.db_table)} SET credit_balance = credit_balance - %s "
            f"WHERE {quote(pk.column)} = %s AND credit_balance >= %s RETURNING credit_balance",
            [amount, pk.get_db_prep_value(team_id, connection), amount],
        )
        row = cursor.fetchone()
    return row[0] if row else None


@transaction.atomic
def record_grant(team: Team, amount: int, note: str) -> CreditEntry:
    """Add credits (a starting balance or a top-up)."""
    Team.objects.filter(pk=team.pk).update(credit_balance=F("credit_balance") + amount)
    return CreditEntry.objects.create(
        team_id=team.pk,
        kind=CreditEntry.Kind.GRANT,
        amount=amount,
        balance_after=_balance(team.pk),
        note=note,
    )


def hold(job: Job) -> CreditEntry:
    """Take the job's cost from its team's balance; call inside the job's transaction."""
    balance = _take(job.team_id, job.cost)
    if balance is None:
        raise InsufficientCredits(job.cost, _balance(job.team_id))
    return CreditEntry.objects.create(
        team_id=job.team_id,
        kind=CreditEntry.Kind.HOLD,
        amount=-job.cost,
        balance_after=balance,
        job=job,
        note=f"{job.get_kind_display()} on {job.model}",
    )


def refund(job: Job, amount: int | None = None, note: str = "Job failed") -> CreditEntry | None:
    """Give back a job's hold (or part of it). Safe to call twice: the second does nothing."""
    amount = job.cost if amount is None else amount
    if amount <= 0:
        return None
    try:
        with transaction.atomic():
            entry = CreditEntry.objects.create(
                team_id=job.team_id,
                kind=CreditEntry.Kind.REFUND,
                amount=amount,
                balance_after=0,
                job=job,
                note=note,
            )
            Team.objects.filter(pk=job.team_id).update(credit_balance=F("credit_balance") + amount)
            entry.balance_after = _balance(job.team_id)
            entry.save(update_fields=["balance_after"])
            return entry
    except IntegrityError:
        return None  # already refunded


def ledger_total(team: Team) -> int:
    from django.db.models import Sum

    return CreditEntry.objects.filter(team=team).aggregate(total=Sum("amount"))["total"] or 0
