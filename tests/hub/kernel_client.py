"""Execute code in a kernel of a user's server through the hub's proxy (REST + websocket)."""

import json
import uuid

import requests
import websocket


class KernelSession:
    """A kernel started through ``<server_url>/api/kernels``, driven over its websocket."""

    def __init__(self, server_url: str, token: str, kernel_name: str = "python3"):
        self.server_url = server_url.rstrip("/")
        self.headers = {"Authorization": f"token {token}"}
        response = requests.post(
            f"{self.server_url}/api/kernels", json={"name": kernel_name}, headers=self.headers, timeout=60
        )
        response.raise_for_status()
        self.kernel_id = response.json()["id"]
        ws_url = self.server_url.replace("http", "ws", 1) + f"/api/kernels/{self.kernel_id}/channels"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=60)
        self.session = uuid.uuid4().hex

    def execute(self, code: str, timeout: float = 60) -> dict:
        """Run ``code``; return {"stdout": str, "error": (ename, evalue) or None, "status": str}."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": self.session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        self.ws.settimeout(timeout)
        stdout, error, status, idle = [], None, None, False
        while status is None or not idle:
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "stream" and message["content"]["name"] == "stdout":
                stdout.append(message["content"]["text"])
            elif kind == "error":
                error = (message["content"]["ename"], message["content"]["evalue"])
            elif kind == "execute_reply":
                status = message["content"]["status"]
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                idle = True
        return {"stdout": "".join(stdout), "error": error, "status": status}

    def close(self):
        try:
            self.ws.close()
        finally:
            requests.delete(f"{self.server_url}/api/kernels/{self.kernel_id}", headers=self.headers, timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
