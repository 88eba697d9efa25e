package io.nnsight.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.lm.LanguageModel;
import io.nnsight.remote.Remote;
import io.nnsight.remote.internal.exec.SandboxedExecutor;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RemoteExecutionTest {
    private static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    private static LanguageModel lm;
    private static ModelServer server;
    private static Remote remote;

    @BeforeAll
    static void start() {
        lm = LanguageModel.load(TestServers.shared("models/stories260K").toString());
        server = ModelServer.builder().model(lm.key(), lm).executor(new SandboxedExecutor()).port(0)
                .apiKeys(Set.of(TestServers.ALICE)).start();
        remote = Remote.on(server.url()).apiKey(TestServers.ALICE).quiet();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void trace_lastLogits() {
        Tensor local = lm.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
        Tensor simulated = lm.trace(PROMPT, Remote.local(), tr -> lm.get("lm_head").output().select(1, -1));
        Tensor served = lm.trace(PROMPT, remote, tr -> lm.get("lm_head").output().select(1, -1));
        assertTrue(local.equal(simulated));
        assertTrue(local.equal(served));
    }
}
