import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import GrantKind, User
from accounts.services import grant_credits


class Command(BaseCommand):
    help = "Grant (or refund) credits to a user, written to their ledger with a reason."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("amount", type=int)
        parser.add_argument("--reason", required=True, help="Why; shown in the user's ledger.")
        parser.add_argument("--refund", action="store_true", help="Record it as a refund rather than a grant.")
        parser.add_argument(
            "--idempotency-key",
            help="Running the command again with the same key grants nothing more (default: a new key per run).",
        )

    def handle(self, *args, email, amount, reason, refund, idempotency_key, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with email {email!r}.")
        key = f"command:{idempotency_key or uuid.uuid4()}"
        try:
            entry = grant_credits(
                user=user,
                amount=amount,
                reason=reason,
                idempotency_key=key,
                kind=GrantKind.REFUND if refund else GrantKind.GRANT,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(
            f"{entry.get_kind_display()} of {entry.amount} credits to {user.email} (entry {entry.pk}); "
            f"balance {user.credit_balance}."
        )
