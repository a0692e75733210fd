"""Network probes run inside a namespace (`ip netns exec NS python -m tests.outside.probe ...`),
printing JSON. Bounded: one connection per port, short timeouts.

    ports HOST PORT...          -> {"open": [ports that accepted a TCP connection]}
    tls HOST PORT SERVERNAME V  -> {"ok": bool, "error": str}  (V: TLSv1, TLSv1_1, TLSv1_2, TLSv1_3)
    slow HOST SERVERNAME COUNT WAIT
                                -> {"statuses": [...], "held": [seconds each connection stayed open]}
        COUNT TLS connections at once, each sending a POST / (no rate limit) whose body never
        comes; what nginx answers each (0: nothing), and when it closes each, waiting
        at most WAIT seconds.
"""

import asyncio
import json
import socket
import ssl
import sys
import warnings

CONNECT_TIMEOUT = 2.0
PARALLEL = 512


async def _is_open(host: str, port: int, gate: asyncio.Semaphore) -> bool:
    async with gate:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        return True


async def open_ports(host: str, ports: list[int]) -> list[int]:
    gate = asyncio.Semaphore(PARALLEL)
    answers = await asyncio.gather(*(_is_open(host, port, gate) for port in ports))
    return [port for port, is_open in zip(ports, answers) if is_open]


def tls_handshake(host: str, port: int, servername: str, version: str) -> dict:
    """A handshake pinned to one protocol version; the client allows every
    cipher (SECLEVEL=0) so a refusal can only come from the server."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # offering TLS 1.0/1.1 is the point
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    try:
        with socket.create_connection((host, port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=servername) as tls:
                return {"ok": True, "version": tls.version(), "cipher": tls.cipher()[0]}
    except (ssl.SSLError, OSError) as error:
        return {"ok": False, "error": str(error)}


async def _slow_request(host: str, servername: str, wait: float, started: float) -> tuple[int, float]:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, 443, ssl=context, server_hostname=servername), CONNECT_TIMEOUT)
    writer.write(f"POST / HTTP/1.1\r\nHost: {servername}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: 1000\r\n\r\n{{".encode())
    await writer.drain()
    status = 0
    try:
        line = await asyncio.wait_for(reader.readline(), wait)
        status = int(line.split()[1]) if line.startswith(b"HTTP/") else 0
        await asyncio.wait_for(reader.read(), wait)  # until nginx closes
    except (asyncio.TimeoutError, ConnectionError, ssl.SSLError):
        pass
    writer.close()
    return status, round(asyncio.get_running_loop().time() - started, 1)


async def slow_requests(host: str, servername: str, count: int, wait: float) -> dict:
    started = asyncio.get_running_loop().time()
    answers = await asyncio.gather(*(_slow_request(host, servername, wait, started) for _ in range(count)))
    return {"statuses": [status for status, _ in answers], "held": [held for _, held in answers]}


def main(argv: list[str]) -> None:
    if argv[0] == "ports":
        result = {"open": asyncio.run(open_ports(argv[1], [int(port) for port in argv[2:]]))}
    elif argv[0] == "tls":
        result = tls_handshake(argv[1], int(argv[2]), argv[3], argv[4])
    elif argv[0] == "slow":
        result = asyncio.run(slow_requests(argv[1], argv[2], int(argv[3]), float(argv[4])))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
