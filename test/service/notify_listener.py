"""A NOTIFY_SOCKET listener for the tests: binds a unix datagram socket at argv[1] and prints
each message it receives as one JSON string per line (BARRIER=1 from systemd-notify included;
its file descriptor is dropped by recv, which releases the sender's barrier)."""
import json
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
print(json.dumps("LISTENING"), flush=True)
while True:
    data = sock.recv(65536)
    print(json.dumps(data.decode("utf-8", "replace")), flush=True)
