/**
 * The inside of the model server (internal): the HTTP endpoints ({@link io.nnsight.server.internal.HttpApi}),
 * the job queue and worker of each model ({@link io.nnsight.server.internal.ModelQueue}), and the jobs a server
 * keeps until they expire ({@link io.nnsight.server.internal.JobStore}).
 */
package io.nnsight.server.internal;
