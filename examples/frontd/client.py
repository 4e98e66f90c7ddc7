"""A frontd client in a dozen lines: send the ciphertext line, read the status, then talk to
the backend as if connected to it directly.

    python examples/frontd/client.py GATEWAY_HOST:PORT CIPHERTEXT_LINE
"""

import socket
import sys

gateway, line = sys.argv[1], sys.argv[2]
host, port = gateway.rsplit(":", 1)
with socket.create_connection((host, int(port)), timeout=10) as sock:
    # the request line, then early data: it reaches the backend first, no round trip lost
    sock.sendall(line.encode() + b"\n" + b"GET / HTTP/1.0\r\n\r\n")
    replies = sock.makefile("rb")
    status = replies.readline().decode().strip()
    print("frontd:", status)  # 200, or 400 / 401 / 502 / 504 and the connection closes
    if status == "200":
        print("backend:", replies.readline().decode().strip())
