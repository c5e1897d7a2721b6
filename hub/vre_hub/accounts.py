"""The hub's authenticator. Password accounts written from the CLI (``set_password``,
``set_authorized``) are in :mod:`vre_core.accounts`, shared with the workshop tools.

:class:`VREAuthenticator` is NativeAuthenticator with the project's user-name rule
(:mod:`vre_hub.naming`) on the sign-up page, names that sign-up can never claim (admins,
services, system names), and the admin account created with its generated password while
the hub starts, before it accepts connections.
"""

from pathlib import Path

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import SignUpHandler
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Set, Unicode, default
from vre_core.accounts import store_password, normalize_username, set_authorized, set_password
from vre_core.naming import BadName, check_name
from vre_core.state import read_or_create_secret

__all__ = ["VREAuthenticator", "normalize_username", "set_authorized", "set_password"]


class VRESignUpHandler(SignUpHandler):
    """/hub/signup, refusing a name that breaks the rule or is reserved with a one-line
    message (NativeAuthenticator's own says "Something went wrong" and lists the wrong rule)."""

    async def post(self):
        if not self.authenticator.enable_signup:
            raise web.HTTPError(404)
        problem = self.authenticator.signup_problem(self.get_body_argument("username", "", strip=False))
        if problem is None:
            return await super().post()
        self.log.warning("Sign-up refused: %s", problem)
        self.set_status(400)
        html = await self.render_template(
            "signup.html",
            ask_email=self.authenticator.ask_email_on_signup,
            result_message=problem,
            alert="alert-danger",
            two_factor_auth=self.authenticator.allow_2fa,
            recaptcha_key=self.authenticator.recaptcha_key,
            tos=self.authenticator.tos,
        )
        self.finish(html)


class VREAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with the VRE's sign-up checks and admin account; it refuses the
    old cookies and tokens of a disabled account as well as its logins (``refresh_user``)."""

    reserved_names = Set(
        Unicode(),
        default_value={"root", "administrator", "jovyan", "nobody", "hub", "jupyterhub", "jupyter", "vre"},
        help="""Names nobody can sign up as, besides ``admin_users`` and the hub's service
        names (an operator may still create them with `vre users add`).""",
    ).tag(config=True)

    admin_password_file = Unicode(
        "",
        help="""File with the first password of the admin accounts (``admin_users``);
        generated (hex, mode 0600) if absent. While the hub starts, an admin without an
        account gets one with this password, so no one can claim the name by signing up
        first. Later changes of the password are kept. Empty: no admin account is made.""",
    ).tag(config=True)

    def signup_problem(self, raw_name: str) -> str | None:
        """Why sign-up must refuse ``raw_name`` (one line), or None."""
        name = self.normalize_username(raw_name)
        try:
            check_name(name)
        except BadName as error:
            return f"{error}."
        services = {service.get("name") for service in getattr(self.parent, "services", None) or []}
        if name in self.admin_users | self.reserved_names | services:
            return f"user name {name!r} is reserved; choose another name."
        return None

    def create_user(self, username, password, **kwargs):
        # The sign-up handler checks first and says why; this refuses whatever else calls.
        if self.signup_problem(username) is not None:
            return None
        return super().create_user(username, password, **kwargs)

    def add_user(self, user):
        super().add_user(user)  # refuses a name that breaks the rule (REST API, hub start)
        if user.name in self.admin_users and self.admin_password_file and self.get_user(user.name) is None:
            password = read_or_create_secret(Path(self.admin_password_file))
            store_password(self.db, user.name, password, authorized=True, rounds=12)
            self.log.info("Created the admin account %s with the password in %s", user.name, self.admin_password_file)

    @default("auth_refresh_age")
    def _auth_refresh_age_default(self):
        # How often refresh_user (one indexed query) asks about each active user: how long,
        # at most, the old cookies and tokens of an account disabled meanwhile keep working.
        return 1

    async def refresh_user(self, user, handler=None):
        """Refuse the requests of an account that has been disabled (``is_authorized`` off:
        `vre users disable`, /hub/authorize, `vre workshop end`), whether they come with an
        old login cookie or an old token; JupyterHub then treats them as not logged in.
        Users without a password account (made through the REST API) are left alone."""
        info = self.db.query(UserInfo).filter(UserInfo.username == user.name).populate_existing().first()
        return info is None or bool(info.is_authorized)

    def get_handlers(self, app):
        return [
            (path, VRESignUpHandler if handler is SignUpHandler else handler)
            for path, handler in super().get_handlers(app)
        ]
