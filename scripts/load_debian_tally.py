#!/usr/bin/env python3
"""Load Debian's published tally sheets into a running coopd, through its HTTP API only.

For each sheet: one member and one member token per ballot (POST /v1/members, POST /v1/tokens),
one ranked proposal with the election's options (POST /v1/voting/proposals), every ballot cast
by its own member (POST /v1/voting/proposals/{id}/ballots), then closed by the operator
(POST .../close). It prints the resulting order and whether it is the published one.

    scripts/load_debian_tally.py [--url URL] [--token TOKEN] [--no-close] [SHEET...]

URL defaults to $COOP_URL (else http://127.0.0.1:8080), TOKEN to $COOP_OPERATOR_TOKEN. Without
SHEET it loads both sheets in ../shared/data/voting/debian_tally (beside the checkout). Exit
status 0 when every closed election came out as published, 1 when one did not, 2 on errors.

tests/integration/test_debian_tally.py imports this module, so the test and the demo load the
data by the same code. Python 3 standard library only.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import sys
import urllib.parse

# The published full orders (Debian's results, as cited in ../shared/data/README.md section 1:
# Condorcet's DebianFormatTest.php; Linux Magazine 80 reports the 2007 order too).
PUBLISHED = {
    "leader2020_tally.txt": {
        "ballots": 339,
        "order": ["Jonathan Carter", "Sruthi Chandran", "Brian Gupta", "None Of The Above"],
    },
    "leader2007_tally.txt": {
        "ballots": 482,
        "order": ["Sam Hocevar", "Steve McIntyre", "Raphaël Hertzog", "Wouter Verhelst",
                  "Anthony Towns", "Gustavo Franco", "None Of The Above", "Simon Richter",
                  "Aigars Mahinovs"],
    },
}

_OPTION_LINE = re.compile(r"Option (\d+)-*>: (.*?)\s*$")
_VOTE_LINE = re.compile(r"^V:\s+(\S+)\s+(\S+)")


class TallySheet:
    """A parsed tally sheet: options (names, in option order) and ballots, each a list of ranks
    (one per option; 1 is best, None is unranked) with its published hash."""

    def __init__(self, name, options, ballots):
        self.name = name
        self.options = options
        self.ballots = ballots


def parse_tally_sheet(path):
    """Reads a Debian tally sheet. The 2007 sheet is ISO-8859-1, later ones UTF-8: bytes that are
    not UTF-8 are read as ISO-8859-1. Raises ValueError on anything unexpected."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("iso-8859-1")
    options = []
    ballots = []
    for number, line in enumerate(text.splitlines(), 1):
        vote = _VOTE_LINE.match(line)
        if vote:
            if not options:
                raise ValueError(f"{path}:{number}: a vote before the option headers")
            marks, digest = vote.groups()
            if len(marks) != len(options) or not re.fullmatch(r"[1-9-]+", marks):
                raise ValueError(f"{path}:{number}: vote {marks!r} does not fit "
                                 f"{len(options)} options")
            ballots.append(([None if m == "-" else int(m) for m in marks], digest))
            continue
        option = _OPTION_LINE.search(line)
        if option:
            if int(option.group(1)) != len(options) + 1:
                raise ValueError(f"{path}:{number}: option {option.group(1)} out of order")
            options.append(option.group(2))
    if not ballots:
        raise ValueError(f"{path}: no votes")
    return TallySheet(os.path.basename(path), options, ballots)


def option_key(index):
    """The proposal's option key of option INDEX (0-based): o1, o2, ..."""
    return f"o{index + 1}"


def ranking_of(ranks):
    """A ballot's ranks as the voting API's ranking: tiers of option keys, best first; equal ranks
    share a tier, unranked options are left out (they rank below all, tied: Debian's rule)."""
    tiers = {}
    for index, rank in enumerate(ranks):
        if rank is not None:
            tiers.setdefault(rank, []).append(option_key(index))
    return [tiers[rank] for rank in sorted(tiers)]


class ApiError(RuntimeError):
    pass


class Client:
    """A minimal client of coopd's HTTP API (one connection per request: simple and robust)."""

    def __init__(self, url, token, timeout=60):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, token=None, expect=None):
        """Sends a request and returns (status, parsed JSON or text). With EXPECT (a status or a
        tuple of them), raises ApiError on any other status."""
        cls = (http.client.HTTPSConnection if self.scheme == "https"
               else http.client.HTTPConnection)
        conn = cls(self.host, self.port, timeout=self.timeout)
        headers = {"Authorization": f"Bearer {token or self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read().decode("utf-8", errors="replace")
            status = resp.status
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            if status not in wanted:
                raise ApiError(f"{method} {path}: status {status}, expected {wanted}: {parsed}")
        return status, parsed


def create_voter(client, label):
    """Registers one member with status `member` and gives them a member token. Returns
    (member_id, token)."""
    _, member = client.request("POST", "/v1/members", {"name": label, "status": "member"},
                               expect=201)
    _, token = client.request("POST", "/v1/tokens",
                              {"role": "member", "member_id": member["id"], "label": label},
                              expect=201)
    return member["id"], token["token"]


def load_sheet(client, sheet, close=True, log=None):
    """Loads SHEET (a TallySheet) through the API: voters, proposal, ballots, close. Returns
    (proposal, result); result is None when CLOSE is false."""
    say = log or (lambda message: None)
    election = os.path.splitext(sheet.name)[0]
    say(f"{sheet.name}: {len(sheet.options)} options, {len(sheet.ballots)} ballots")
    voters = [create_voter(client, f"Debian {election} voter {n + 1} ({digest[:8]})")
              for n, (_, digest) in enumerate(sheet.ballots)]
    closes_at = (datetime.datetime.now(datetime.timezone.utc)
                 + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, proposal = client.request("POST", "/v1/voting/proposals", {
        "title": f"Debian project leader election ({election})",
        "text": f"Ballots of Debian's published tally sheet {sheet.name}, one member each.",
        "method": "ranked",
        "options": [{"key": option_key(i), "label": name}
                    for i, name in enumerate(sheet.options)],
        "closes_at": closes_at,
    }, expect=201)
    path = f"/v1/voting/proposals/{proposal['id']}"
    for (ranks, _), (_, token) in zip(sheet.ballots, voters):
        client.request("POST", f"{path}/ballots", {"ranking": ranking_of(ranks)}, token=token,
                       expect=201)
    say(f"{sheet.name}: proposal {proposal['id']}: {len(voters)} ballots cast")
    if not close:
        return proposal, None
    _, result = client.request("POST", f"{path}/close", expect=200)
    return proposal, result


def order_names(sheet, result):
    """The result's order as tiers of option names."""
    names = {option_key(i): name for i, name in enumerate(sheet.options)}
    return [[names[key] for key in tier] for tier in result["order"]]


def format_order(tiers):
    return " > ".join(" = ".join(tier) for tier in tiers)


def default_sheets():
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(here, "..", "..", "shared", "data", "voting", "debian_tally")
    return [os.path.join(folder, name) for name in sorted(PUBLISHED)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sheets", nargs="*", help="tally sheets (default: both Debian sheets)")
    parser.add_argument("--url", default=os.environ.get("COOP_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("COOP_OPERATOR_TOKEN"))
    parser.add_argument("--no-close", action="store_true",
                        help="leave the proposals open (to vote on by hand)")
    args = parser.parse_args(argv)
    if not args.token:
        print("load_debian_tally: no operator token: pass --token or set COOP_OPERATOR_TOKEN",
              file=sys.stderr)
        return 2
    client = Client(args.url, args.token)
    all_as_published = True
    try:
        for path in args.sheets or default_sheets():
            sheet = parse_tally_sheet(path)
            proposal, result = load_sheet(client, sheet, close=not args.no_close,
                                          log=lambda m: print(m, flush=True))
            if result is None:
                print(f"{sheet.name}: proposal {proposal['id']} left open")
                continue
            tiers = order_names(sheet, result)
            print(f"{sheet.name}: {result['outcome']}: {format_order(tiers)}")
            published = PUBLISHED.get(sheet.name)
            if published:
                same = tiers == [[name] for name in published["order"]]
                all_as_published = all_as_published and same
                print(f"{sheet.name}: {'as published' if same else 'DIFFERS from the published order'}")
    except (OSError, ValueError, ApiError) as e:
        print(f"load_debian_tally: {e}", file=sys.stderr)
        return 2
    return 0 if all_as_published else 1


if __name__ == "__main__":
    sys.exit(main())
