"""Dask dashboards for their owner only.

dask-gateway routes ``/clusters/<name>/`` straight to a cluster's dashboard, with no
authentication: the random cluster name is the only protection. Here the gateway leaves
that route out (``VREBackend._check_cluster_proxied``), so the path reaches the gateway's
own web application, where ``DashboardAuthenticator`` identifies the caller with the hub
and forwards the request (HTTP and the dashboard's websockets) only if the caller owns the
cluster:

* a browser logs in with the hub (JupyterHub OAuth, as the hub's own services do): the
  gateway keeps the OAuth token in an HttpOnly cookie limited to its prefix; a request
  with a gateway token (``Authorization: jupyterhub <token>``) works too;
* another user, and a cluster that does not exist: 404 (nothing tells which exists);
* nobody logged in: a browser page is sent to the hub's login, anything else gets 403.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from dask_gateway_server.auth import JupyterHubAuthenticator, unauthorized
from traitlets import Unicode, default

#: Headers not passed between the browser and a dashboard (hop-by-hop, the caller's
#: credentials, and what aiohttp recomputes: it decompresses bodies itself).
NOT_FORWARDED = {
    "host", "cookie", "authorization", "connection", "keep-alive", "upgrade", "te", "trailer",
    "transfer-encoding", "proxy-authorization", "content-length", "content-encoding",
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol",
    "set-cookie",
}


def _forwarded(headers) -> dict:
    return {k: v for k, v in headers.items() if k.lower() not in NOT_FORWARDED}


class DashboardAuthenticator(JupyterHubAuthenticator):
    """dask-gateway's JupyterHub authenticator, plus hub login for the clusters' dashboards."""

    service_prefix = Unicode(
        help="Public path of the gateway behind the hub's proxy (cookie path, redirects); "
        "default: $JUPYTERHUB_SERVICE_PREFIX.",
        config=True,
    )

    @default("service_prefix")
    def _default_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/dask-gateway/")

    public_origin = Unicode(
        help="The gateway's own origin (scheme://host[:port]) when services have their own "
        "subdomain: dashboard websockets from any other origin are refused. Empty (no "
        "subdomains: servers share the hub's origin anyway): no check. Default: "
        "$VRE_GATEWAY_PUBLIC_URL.",
        config=True,
    )

    @default("public_origin")
    def _default_origin(self):
        return os.environ.get("VRE_GATEWAY_PUBLIC_URL", "")

    session_cookie = Unicode(
        "vre-dask-dashboard", help="Cookie holding a browser's hub OAuth token for the dashboards.", config=True
    )

    async def setup(self, app):
        await super().setup(app)
        from jupyterhub.services.auth import HubOAuth

        # JupyterHub's own service client: OAuth client id, callback and hub URLs from the
        # JUPYTERHUB_* variables the hub gives its services.
        self.hub_oauth = HubOAuth(api_token=self.jupyterhub_api_token, api_url=self.jupyterhub_api_url)
        app.add_routes([
            web.get("/oauth_callback", self.oauth_callback),
            web.route("*", "/clusters/{cluster_name}/{path:.*}", self.dashboard),
        ])

    async def authenticate(self, request):
        try:
            return await super().authenticate(request)
        except web.HTTPInternalServerError as error:
            # The hub answers 403 for a token it does not know (expired, revoked, forged),
            # which dask-gateway-server 2026.3.0 turns into a 500: say 401, so that a
            # browser with a stale cookie logs in again.
            if error.reason.startswith("Permission failure"):
                raise unauthorized("jupyterhub") from None
            raise

    def get_token(self, request):
        token = super().get_token(request)
        # The cookie counts on dashboard routes only: the API stays token-only (no CSRF).
        if token is None and request.get("dashboard"):
            token = request.cookies.get(self.session_cookie)
        return token

    # --- the dashboard route -------------------------------------------------------------
    async def dashboard(self, request):
        request["dashboard"] = True
        try:
            return await self.authenticate_and_handle(request, self._forward)
        except web.HTTPUnauthorized:
            if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
                return self._login(request)
            raise web.HTTPForbidden(reason="log in to the hub to see this dashboard")

    async def _forward(self, request):
        name = request.match_info["cluster_name"]
        cluster = await request.app["backend"].get_cluster(name)
        if cluster is None or cluster.username != request["user"].name or not cluster.dashboard_address:
            raise web.HTTPNotFound(reason=f"no running cluster {name} of yours")
        target = f"{cluster.dashboard_address}/{request.match_info['path']}"
        if request.query_string:
            target += f"?{request.query_string}"
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._forward_websocket(request, target)
        async with self.session.request(
            request.method, target, headers=_forwarded(request.headers), data=await request.read(),
            allow_redirects=False,
        ) as upstream:
            headers = _forwarded(upstream.headers)
            if headers.get("Location", "").startswith("/"):  # the dashboard's own absolute paths
                headers["Location"] = f"{self.service_prefix.rstrip('/')}/clusters/{name}{headers['Location']}"
            return web.Response(status=upstream.status, headers=headers, body=await upstream.read())

    async def _forward_websocket(self, request, target):
        # A page of another origin (a user's server on a sibling subdomain, same-site, so
        # it would send the Lax cookie) cannot open the dashboard's websocket as the owner.
        origin = request.headers.get("Origin")
        if self.public_origin and origin and origin.rstrip("/") != self.public_origin.rstrip("/"):
            raise web.HTTPForbidden(reason="websocket from another origin")
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        async with self.session.ws_connect(
            "ws" + target[len("http"):], protocols=protocols, headers=_forwarded(request.headers)
        ) as upstream:
            downstream = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else ())
            await downstream.prepare(request)

            async def pump(source, sink):
                async for message in source:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        await sink.send_str(message.data)
                    elif message.type == aiohttp.WSMsgType.BINARY:
                        await sink.send_bytes(message.data)
                await sink.close()

            for outcome in await asyncio.gather(
                pump(upstream, downstream), pump(downstream, upstream), return_exceptions=True
            ):
                if isinstance(outcome, Exception):
                    self.log.warning("Dashboard websocket %s: %r", target, outcome)
            return downstream

    # --- hub login (OAuth) for browsers ------------------------------------------------------
    def _state_cookie(self) -> str:
        return f"{self.session_cookie}-state"

    def _cookie_options(self, request) -> dict:
        https = request.headers.get("X-Forwarded-Proto", request.scheme) == "https"
        return {"path": self.service_prefix, "httponly": True, "samesite": "Lax", "secure": https}

    def _login(self, request):
        state = secrets.token_urlsafe(24)
        here = f"{self.service_prefix.rstrip('/')}{request.path_qs}"
        query = urlencode({
            "client_id": self.hub_oauth.oauth_client_id,
            "redirect_uri": self.hub_oauth.oauth_redirect_uri,
            "response_type": "code",
            "state": state,
        })
        response = web.HTTPFound(f"{self.hub_oauth.oauth_authorization_url}?{query}")
        response.set_cookie(self._state_cookie(), f"{state} {here}", max_age=600, **self._cookie_options(request))
        return response

    async def oauth_callback(self, request):
        state, _, next_url = request.cookies.get(self._state_cookie(), "").partition(" ")
        if not state or not secrets.compare_digest(state, request.query.get("state", "")):
            raise web.HTTPForbidden(reason="OAuth state does not match: open the dashboard link again")
        if not next_url.startswith(f"{self.service_prefix.rstrip('/')}/clusters/"):
            next_url = self.service_prefix
        token = await self.hub_oauth.token_for_code(request.query.get("code", ""), sync=False)
        response = web.HTTPFound(next_url)
        response.del_cookie(self._state_cookie(), path=self.service_prefix)
        response.set_cookie(self.session_cookie, token, **self._cookie_options(request))
        return response
