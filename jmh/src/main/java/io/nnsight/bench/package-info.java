/**
 * The JMH benchmarks of {@code jmh/target/benchmarks.jar} ({@code MlpBenchmark}, {@code LmBenchmark} and their
 * agent twins, each beside its bare-forward baseline; {@code FamilyBenchmark}, each family's tiny model), {@code
 * Report}, which turns their JSON results into the tables and charts of {@code docs/benchmarks.md}, and three
 * programs of their own: {@code LoadMemory} (load time and peak memory of a 1 GiB checkpoint written at run time),
 * {@code PhysicalMemoryCheck} (what JavaCPP's physical-memory check costs and what it protects) and {@code
 * ServeLoadBenchmark} (a model server's throughput under 16 clients, one job at a time against co-batching).
 */
package io.nnsight.bench;
