"""Password accounts of the default authenticator (NativeAuthenticator), written directly.

NativeAuthenticator keeps bcrypt hashes in the hub database (table ``users_info``); an
account only logs in once ``is_authorized`` is set, by an admin in /hub/authorize or here.
The CLI writes that table directly so that an operator (or a teacher creating a workshop)
can create authorized accounts without clicking through the sign-up page.
"""

import bcrypt
from nativeauthenticator.orm import UserInfo
from sqlalchemy import create_engine, inspect
from sqlalchemy.orm import sessionmaker


def normalize_username(name: str) -> str:
    """The name as JupyterHub's authenticators store it (lowercased), so that an account made
    here is the one its owner logs in to."""
    return name.lower()


def _session(db_url: str):
    engine = create_engine(db_url)
    if "users_info" not in inspect(engine).get_table_names():
        UserInfo.__table__.create(engine)
    return sessionmaker(bind=engine)()


def store_password(db, username: str, password: str, authorized: bool, rounds: int) -> None:
    if not password:
        raise ValueError(f"empty password for {username!r}; give a non-empty password")
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds))
    info = db.query(UserInfo).filter(UserInfo.username == username).first()
    if info is None:
        db.add(UserInfo(username=username, password=hashed, is_authorized=authorized))
    else:
        info.password = hashed
        info.is_authorized = authorized
    db.commit()


def set_password(
    username: str, password: str, db_url: str, authorized: bool = True, rounds: int = 12
) -> None:
    """Create or update the account ``username`` (already normalized) with ``password``.

    ``rounds``: bcrypt cost; generated long random passwords can afford fewer rounds, which
    keeps many simultaneous logins (a workshop starting) from queueing in the hub.
    """
    db = _session(db_url)
    try:
        store_password(db, username, password, authorized, rounds)
    finally:
        db.close()


def set_authorized(username: str, authorized: bool, db_url: str) -> bool:
    """Enable or disable login for ``username``; False if there is no such account."""
    db = _session(db_url)
    try:
        info = db.query(UserInfo).filter(UserInfo.username == username).first()
        if info is None:
            return False
        info.is_authorized = authorized
        db.commit()
        return True
    finally:
        db.close()
