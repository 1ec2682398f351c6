"""The work queue: who gets called, by whom, when, and why.

Public entry points: ``sync_ladder`` (ladder from settings into the Scenario tables),
``refresh_debtors`` / ``refresh_all`` (set-based scoring and eligibility),
``claim_next`` / ``renew_lease`` / ``skip`` / ``release`` (atomic claims under a lease),
``explain_debtor`` (the pure-Python reference for one debtor, for the « why » panel).
"""

from callcenter.domain.queue.claim import Claim, claim_next, release, renew_lease, skip
from callcenter.domain.queue.ladder import LadderRung, load_ladder, sync_ladder
from callcenter.domain.queue.refresh import refresh_all, refresh_debtors
from callcenter.domain.queue.scoring import Explanation, explain_debtor

__all__ = [
    "Claim",
    "Explanation",
    "LadderRung",
    "claim_next",
    "explain_debtor",
    "load_ladder",
    "refresh_all",
    "refresh_debtors",
    "release",
    "renew_lease",
    "skip",
    "sync_ladder",
]
