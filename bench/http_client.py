#!/usr/bin/env python3
"""Sends exactly N keep-alive GET requests to URL over one connection and checks each is 200.

usage: http_client.py URL N [TOKEN]
Used by bench/run.sh to drive a server under callgrind with a known number of requests.
"""
import http.client
import sys
import urllib.parse


def main():
    url, n = sys.argv[1], int(sys.argv[2])
    token = sys.argv[3] if len(sys.argv) > 3 else None
    parts = urllib.parse.urlsplit(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    for i in range(n):
        conn.request("GET", parts.path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            sys.exit(f"http_client: request {i} got {resp.status}")
    conn.close()


if __name__ == "__main__":
    main()
