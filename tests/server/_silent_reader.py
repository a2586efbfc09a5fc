"""A member that never reads: joins a tlschat server over TLS with a small
receive buffer, then reads nothing more, so the server's queue for it fills
at once whatever the kernel's autotuning would allow. Prints "joined" once
welcomed; exits when its standard input closes.

Usage: python3 _silent_reader.py HOST PORT CA_FILE ALIAS
"""

import socket
import ssl
import sys

host, port, ca_file, alias = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Before connecting: the window it offers stays this small.
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect((host, port))
context = ssl.create_default_context(cafile=ca_file)
conn = context.wrap_socket(raw, server_hostname="localhost")
conn.sendall(alias.encode() + b"\n")
seen = b"\n"
while b"\nWELCOME " not in seen:
    chunk = conn.recv(4096)
    if not chunk:
        sys.exit(f"closed before WELCOME: {seen!r}")
    seen += chunk
print("joined", flush=True)
sys.stdin.read()
conn.close()
