"""Store generated workshop passwords with a bcrypt work factor suited to them.

NativeAuthenticator checks bcrypt synchronously in the hub's event loop. At the default
12 rounds one check costs 0.25-0.9 s on a 2-core host, so 30 participants logging in at
the start of class queue for half a minute and stall the hub meanwhile. The work factor
only protects *guessable* passwords; ours are 14 random characters from a 57-symbol
alphabet (~81 bits), which no number of bcrypt rounds makes more or less guessable, so
6 rounds (~0.02 s) are used for them. Human-chosen passwords keep the project default.
"""

import inspect

import bcrypt

from .. import accounts

GENERATED_PASSWORD_ROUNDS = 6


def set_generated_password(username: str, password: str, db_url: str) -> None:
    """Create or update ``username``'s approved account with a *generated* password."""
    if "rounds" in inspect.signature(accounts.set_password).parameters:
        accounts.set_password(username, password, db_url, rounds=GENERATED_PASSWORD_ROUNDS)
        return
    # Until vre_hub.accounts takes a work factor: the same approved row, fewer rounds.
    from nativeauthenticator.orm import UserInfo

    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(GENERATED_PASSWORD_ROUNDS))
    db = accounts._session(db_url)  # creates NativeAuthenticator's table if needed
    try:
        info = db.query(UserInfo).filter(UserInfo.username == username).first()
        if info is None:
            db.add(UserInfo(username=username, password=hashed, is_authorized=True))
        else:
            info.password, info.is_authorized = hashed, True
        db.commit()
    finally:
        db.close()
