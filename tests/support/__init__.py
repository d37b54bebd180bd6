"""Shared set-up for the tests: one helper per kind of test pipeline
(:mod:`support.pipelines`) and the CI skip policy (:mod:`support.skips`)."""
