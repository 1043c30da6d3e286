"""The eval harness: fixtures, scoring, recorded runs, reports and the CI gate."""
