/**
 * The nnsight agent, {@code nnsight-agent.jar}: a small {@code premain}/{@code agentmain} ({@link
 * io.nnsight.agent.NnsightAgent}) that installs the {@code nnsight-instrument} transformations, shaded with
 * ByteBuddy and ASM relocated so that they never meet the application's own copies.
 */
package io.nnsight.agent;
