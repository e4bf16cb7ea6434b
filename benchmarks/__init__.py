"""The benchmarks: one module per benchmark, registered with its options in `benchmarks.registry`, run by
`benchmarks.driver` (`oneedit bench NAME`), plus what they share: the models and data they run on
(`models`, `fashion_mnist`), the example edits (`edits`), baselines, timing and statistics. Their results
(JSON) and logs are kept in bench/ at the top of the repository (BENCHMARKS.md)."""
