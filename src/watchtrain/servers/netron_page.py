"""Netron's own server, serving a page that never calls out: run as
`python -m watchtrain.servers.netron_page MODEL --host 127.0.0.1 --port N` (start_netron does).

Netron's page makes two calls beyond its server, both from its `browser.js`:
- on a first visit it asks an IP-lookup service (ipinfo.io) for the country, to decide whether to
  show a cookie-consent dialog, which then blocks the model until it is answered;
- once consent is given, a packaged build reports usage to an analytics service.

Netron's own switches turn both off, and the course sets them in the page it serves: the consent
is given by a `consent` cookie (which is what answering the dialog stores), and usage reports
are sent only by a packaged build, which the page's version (`0.0.0`, a development build) says
this is not. Nothing is blocked: nothing is asked. A browser test shows that no request leaves
127.0.0.1 (tests/test_netron_server.py).
"""
from __future__ import annotations

import re
import time

import netron
import netron.server

from watchtrain.servers.processes import exit_when_orphaned

DEVELOPMENT_VERSION = "0.0.0"
_VERSION_META = re.compile(rb'<meta name="version" content="[^"]*">')


class OfflinePageHandler(netron.server._HTTPRequestHandler):
    def _is_page(self) -> bool:
        return self.path.split("?")[0] in ("/", "/index.html")

    def end_headers(self) -> None:
        if self._is_page():  # "consent already given": no IP lookup, no dialog
            self.send_header("Set-Cookie", f"consent={int(time.time() * 1000)}; Path=/; SameSite=Strict")
        super().end_headers()

    def _write(self, status_code, content_type, content):
        if self._is_page() and content:  # not a packaged build: no usage reports
            content = _VERSION_META.sub(f'<meta name="version" content="{DEVELOPMENT_VERSION}">'.encode(), content)
        super()._write(status_code, content_type, content)


if __name__ == "__main__":
    exit_when_orphaned()  # no Netron outlives the process that started it
    netron.server._HTTPRequestHandler = OfflinePageHandler
    netron.main()
