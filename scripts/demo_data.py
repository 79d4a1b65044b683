#!/usr/bin/env python3
"""Loads the demo's data into a running coopd over its HTTP API (standard library only):
members with different statuses and tokens for the voting members, a yes/no proposal that is
voted on and closed (so it has a result), and a ranked proposal that stays open.

    scripts/demo_data.py --url http://127.0.0.1:8080 --token OPERATOR_TOKEN

Loading twice adds nothing: when the demo's first member is already registered, it stops.
"""

import argparse
import datetime
import json
import sys
import urllib.error
import urllib.request

MEMBERS = [
    # name, email, status
    ("Ada Lovelace", "ada@example.org", "member"),
    ("Grace Hopper", "grace@example.org", "member"),
    ("Katherine Johnson", "katherine@example.org", "member"),
    ("Alan Turing", "alan@example.org", "member"),
    ("Margaret Hamilton", "margaret@example.org", "member"),
    ("Linus Pauling", "linus@example.org", "applicant"),
    ("Edsger Dijkstra", "edsger@example.org", "resigned"),
]


class Api:
    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, token=None, expect=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        if status not in expect:
            sys.exit(f"demo_data: {method} {path}: HTTP {status}: {text}")
        return json.loads(text) if text else None


def rfc3339(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="coopd's base URL")
    parser.add_argument("--token", required=True, help="an operator token")
    args = parser.parse_args()
    api = Api(args.url, args.token)

    registered = api.call("GET", "/v1/members")["members"]
    if any(m.get("email") == MEMBERS[0][1] for m in registered):
        print("demo_data: the demo data is already loaded", file=sys.stderr)
        return

    tokens = {}
    for name, email, status in MEMBERS:
        initial = "applicant" if status == "applicant" else "member"
        member = api.call("POST", "/v1/members", {"name": name, "email": email, "status": initial})
        if initial == "member" and status == "member":
            tokens[name] = api.call("POST", "/v1/tokens", {
                "role": "member", "member_id": member["id"], "label": f"demo: {name}"})["token"]
        if status != initial:
            api.call("POST", f"/v1/members/{member['id']}/status",
                     {"status": status, "note": "demo"})
    print(f"demo_data: {len(MEMBERS)} members, {len(tokens)} of them with voting tokens",
          file=sys.stderr)

    now = datetime.datetime.now(datetime.timezone.utc)
    voters = list(tokens.values())

    budget = api.call("POST", "/v1/voting/proposals", {
        "title": "Adopt the 2027 budget",
        "text": "The board proposes the 2027 budget as circulated on the members' list.",
        "method": "yesno",
        "threshold": "half",
        "quorum_percent": 50,
        "closes_at": rfc3339(now + datetime.timedelta(days=7)),
    })
    for token, choice in zip(voters, ["yes", "yes", "no", "yes", "abstain"]):
        api.call("POST", f"/v1/voting/proposals/{budget['id']}/ballots", {"choice": choice},
                 token=token)
    result = api.call("POST", f"/v1/voting/proposals/{budget['id']}/close")
    print(f"demo_data: proposal {budget['id']} \"{budget['title']}\" closed: "
          f"{result.get('outcome')} (yes {result.get('yes')}, no {result.get('no')}, "
          f"abstain {result.get('abstain')})", file=sys.stderr)

    room = api.call("POST", "/v1/voting/proposals", {
        "title": "Name the new meeting room",
        "text": "Rank the names you like; leave out those you do not.",
        "method": "ranked",
        "options": [
            {"key": "agora", "label": "Agora"},
            {"key": "hearth", "label": "Hearth"},
            {"key": "workshop", "label": "Workshop"},
            {"key": "commons", "label": "The Commons"},
        ],
        "quorum_percent": 25,
        "closes_at": rfc3339(now + datetime.timedelta(days=14)),
    })
    rankings = [
        [["agora"], ["commons"], ["hearth"]],
        [["commons", "agora"], ["workshop"]],
        [["hearth"], ["agora"]],
    ]
    for token, ranking in zip(voters, rankings):
        api.call("POST", f"/v1/voting/proposals/{room['id']}/ballots", {"ranking": ranking},
                 token=token)
    print(f"demo_data: proposal {room['id']} \"{room['title']}\" is open until "
          f"{room.get('closes_at')}, {len(rankings)} of {len(voters)} ballots cast",
          file=sys.stderr)
    last = MEMBERS[len(voters) - 1][0]
    print(f"demo_data: {last} has not voted on it yet; their member token: {tokens[last]}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
