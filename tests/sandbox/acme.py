"""A real ACME CA for the sandbox: Pebble and pebble-challtestsrv (Debian's
`pebble` package) on the machine side of the sandbox network.

- challtestsrv answers DNS for the sandbox's domain, and only that name, with
  the host's address; its HTTP/TLS challenge listeners are disabled.
- Pebble validates http-01 on the host's port 80 (tls-alpn-01 on 443), so
  certbot's webroot on the host is exercised for real.
- Pebble's own listener presents a certificate from a CA the harness makes
  here with openssl; that CA is what certbot on the host trusts through
  REQUESTS_CA_BUNDLE (inventory data `acme_ca_bundle`).
- Pebble's issuing root changes at every start; it is fetched from the
  management API into `.sandbox/pebble-root.pem` for the outside probes.

Everything binds to the gateway address, which is this sandbox's own, so
fixed ports never collide with another sandbox on the machine.
"""

import json
import os
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from .processes import start

ACME_PORT = 14000
MANAGEMENT_PORT = 15000
DNS_PORT = 8053
CHALLTESTSRV_MANAGEMENT_PORT = 8055
LISTENER_CA = "acme-listener-ca.pem"
ISSUING_ROOT = "pebble-root.pem"


def directory_url(gateway: str) -> str:
    return f"https://{gateway}:{ACME_PORT}/dir"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_listener_ca(state_dir: Path, gateway: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and, signed by it, the certificate Pebble listens with
    (the gateway's IP in its SAN). Returns (ca, cert, key)."""
    ca = state_dir / LISTENER_CA
    ca_key = ca.with_suffix(".key")
    cert, key, csr = (state_dir / f"pebble-listener.{ext}" for ext in ("pem", "key", "csr"))
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "30",
             "-subj", "/CN=insta sandbox ACME listener CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={gateway}")
    extensions = state_dir / "pebble-listener.ext"
    extensions.write_text(f"subjectAltName=IP:{gateway}\nextendedKeyUsage=serverAuth\n"
                          "basicConstraints=critical,CA:FALSE\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
             "-extfile", str(extensions), "-out", str(cert))
    for leftover in (csr, extensions):
        leftover.unlink()
    return ca, cert, key


def start_dns(state_dir: Path, gateway: str) -> int:
    """challtestsrv as DNS only: every other listener is switched off."""
    return start(["pebble-challtestsrv",
                  "-dns01", f"{gateway}:{DNS_PORT}",
                  "-management", f"{gateway}:{CHALLTESTSRV_MANAGEMENT_PORT}",
                  "-http01", "", "-https01", "", "-tlsalpn01", "",
                  "-defaultIPv4", "", "-defaultIPv6", ""],
                 state_dir / "challtestsrv.log")


def add_host_record(gateway: str, domain: str, address: str) -> None:
    """The one name challtestsrv answers: the sandbox domain -> the host."""
    body = json.dumps({"host": domain, "addresses": [address]}).encode()
    url = f"http://{gateway}:{CHALLTESTSRV_MANAGEMENT_PORT}/add-a"
    _retry(lambda: _opener().open(urllib.request.Request(url, data=body), timeout=5).read())


def start_pebble(state_dir: Path, gateway: str, cert: Path, key: Path) -> int:
    config = state_dir / "pebble-config.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"{gateway}:{ACME_PORT}",
        "managementListenAddress": f"{gateway}:{MANAGEMENT_PORT}",
        "certificate": str(cert),
        "privateKey": str(key),
        "httpPort": 80,  # http-01 is validated on the host's real port 80
        "tlsPort": 443,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }}, indent=2) + "\n")
    return start(["pebble", "-config", str(config), "-dnsserver", f"{gateway}:{DNS_PORT}"],
                 state_dir / "pebble.log",
                 # No artificial validation delays, no deliberately rejected nonces:
                 # the deploy should spend its time on the real exchange.
                 env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"})


def fetch_issuing_root(state_dir: Path, gateway: str, ca: Path) -> Path:
    """Pebble's root of the moment (management API), for verifying served chains."""
    context = ssl.create_default_context(cafile=str(ca))
    url = f"https://{gateway}:{MANAGEMENT_PORT}/roots/0"
    pem = _retry(lambda: _opener(context).open(url, timeout=5).read())
    root = state_dir / ISSUING_ROOT
    root.write_bytes(pem)
    return root


def _opener(context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
    # No proxy, whatever the environment says: these addresses are the sandbox's own.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                       urllib.request.HTTPSHandler(context=context))


def _retry(call, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
