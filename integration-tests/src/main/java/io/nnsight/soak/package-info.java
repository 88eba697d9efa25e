/**
 * Programs run against the library as a user runs them: {@link io.nnsight.soak.Soak}, the memory soak of
 * many traces on the benchmark MLP (resident memory and live native objects as it goes).
 */
package io.nnsight.soak;
