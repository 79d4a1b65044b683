"""Both Debian leader elections through coopd's HTTP API, against their published results.

For each tally sheet in ../shared/data/voting/debian_tally: one member and one token per ballot,
one ranked proposal with the election's options, every ballot cast over HTTP by its member,
closed by the operator; the full order must be the published one. The loading code is
scripts/load_debian_tally.py, the same the demo uses.
"""

import os
import sys
import unittest

import coophelper

sys.path.insert(0, os.path.join(coophelper.source_dir(), "scripts"))
import load_debian_tally as loader  # noqa: E402


def pairwise_from_sheet(sheet):
    """d[a][b] = ballots ranking option a above option b, unranked options below all ranked ones
    and tied with each other; counted here independently of the plugin's C code."""
    n = len(sheet.options)
    d = {loader.option_key(i): {} for i in range(n)}
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            count = 0
            for ranks, _ in sheet.ballots:
                a, b = ranks[i], ranks[j]
                if a is not None and (b is None or a < b):
                    count += 1
            d[loader.option_key(i)][loader.option_key(j)] = count
    return d


def strongest_paths(d):
    """Schulze's strongest paths (winning votes) from the pairwise counts d, by the textbook
    Floyd-Warshall widest-path loop: again independent of the plugin's C code."""
    keys = list(d)
    p = {a: {b: (d[a][b] if d[a][b] > d[b][a] else 0) for b in keys if b != a} for a in keys}
    for i in keys:
        for j in keys:
            if j == i:
                continue
            for k in keys:
                if k in (i, j):
                    continue
                p[j][k] = max(p[j][k], min(p[j][i], p[i][k]))
    return p


class DebianElection:
    """One published election; subclasses name the sheet."""

    plugins = {"voting": {}}
    sheet_name = None

    def test_published_order(self):
        path = os.path.join(coophelper.require_env("COOP_DATA_DIR"), "voting", "debian_tally",
                            self.sheet_name)
        self.assertTrue(os.path.isfile(path),
                        f"{path} is missing: the shared test data is required (CI has it)")
        sheet = loader.parse_tally_sheet(path)
        published = loader.PUBLISHED[self.sheet_name]
        self.assertEqual(len(sheet.ballots), published["ballots"])

        client = loader.Client(f"http://127.0.0.1:{self.coop.port}", self.operator_token)
        proposal, result = loader.load_sheet(client, sheet)

        self.assertEqual(proposal["eligible_voters"], published["ballots"])
        self.assertEqual(result["outcome"], "decided")
        self.assertEqual(result["ballots"], published["ballots"])
        self.assertEqual(result["eligible_voters"], published["ballots"])
        self.assertEqual(loader.order_names(sheet, result),
                         [[name] for name in published["order"]])
        winner = loader.option_key(sheet.options.index(published["order"][0]))
        self.assertEqual(result["winners"], [winner])
        pairwise = pairwise_from_sheet(sheet)
        self.assertEqual(result["pairwise"], pairwise)
        self.assertEqual(result["strongest_paths"], strongest_paths(pairwise))

        # Served as stored from then on; the ballot chain verifies.
        path = f"/v1/voting/proposals/{proposal['id']}"
        status, _, stored = self.http("GET", f"{path}/result", token=self.operator_token)
        self.assertEqual(status, 200)
        self.assertEqual(stored, result)
        status, _, chain = self.http("GET", f"{path}/ballots/verify", token=self.operator_token)
        self.assertEqual(status, 200, chain)
        self.assertEqual((chain["ballots"], chain["intact"]), (published["ballots"], True))


class TestDebian2020(DebianElection, coophelper.CoopTestCase):
    sheet_name = "leader2020_tally.txt"


class TestDebian2007(DebianElection, coophelper.CoopTestCase):
    sheet_name = "leader2007_tally.txt"


if __name__ == "__main__":
    unittest.main()
