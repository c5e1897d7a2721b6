"""Store generated workshop passwords with a bcrypt work factor suited to them.

NativeAuthenticator checks bcrypt synchronously in the hub's event loop. At the default
12 rounds one check costs 0.25-0.9 s on a 2-core host, so 30 participants logging in at
the start of class queue for half a minute and stall the hub meanwhile. The work factor
only protects *guessable* passwords; ours are 14 random characters from a 57-symbol
alphabet (~81 bits), which no number of bcrypt rounds makes more or less guessable, so
6 rounds (~0.02 s) are used for them. Human-chosen passwords keep the project default.
"""

from vre_core import accounts

GENERATED_PASSWORD_ROUNDS = 6


def set_generated_password(username: str, password: str, db_url: str) -> None:
    """Create or update ``username``'s approved account with a *generated* password."""
    accounts.set_password(username, password, db_url, rounds=GENERATED_PASSWORD_ROUNDS)
