/**
 * The JMH benchmarks of {@code jmh/target/benchmarks.jar} ({@code MlpBenchmark}, {@code LmBenchmark} and their
 * agent twins, each beside its bare-forward baseline) and {@code Report}, which turns their JSON results into the
 * table and charts of {@code docs/benchmarks.md}.
 */
package io.nnsight.bench;
