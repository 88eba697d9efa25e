/**
 * The {@code nnsight} command (picocli): {@code demo}, {@code generate}, {@code logit-lens} and {@code serve},
 * built into {@code cli/target/nnsight.jar}; the {@code ./nnsight} script at the project's root runs it.
 */
package io.nnsight.cli;
