package io.nnsight.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.nnsight.lm.LanguageModel;
import io.nnsight.nn.RMSNorm;
import io.nnsight.remote.Remote;
import io.nnsight.remote.RemoteException;
import io.nnsight.remote.internal.http.HttpTransport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.bytedeco.pytorch.Scalar;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model whose weights a job changed and the server could not restore serves no more jobs: it would serve
 * wrong numbers. Here the checkpoint the weights come back from is gone.
 */
class LostWeightsTest {
    private static final String ALICE = "alice-key";

    @Test
    void job_weightsCannotBeRestored_failsAndRetiresTheModel(@TempDir Path folder) throws IOException {
        Path stories = TestServers.shared("models/stories260K");
        for (String file : new String[] {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(stories.resolve(file), folder.resolve(file));
        }
        LanguageModel lm = LanguageModel.load(folder.toString());
        try (ModelServer server = ModelServer.builder().model(lm.key(), lm).port(0)
                .apiKeys(Set.of(ALICE)).start();
                HttpTransport http = new HttpTransport(server.url(), ALICE)) {
            Remote remote = Remote.on(server.url()).apiKey(ALICE).quiet();
            long positions = lm.trace("Once", tr -> lm.get("lm_head").output().size(1));
            assertEquals(positions, (long) lm.on(remote).trace("Once", tr -> lm.get("lm_head").output().size(1)));
            Files.delete(folder.resolve("model.safetensors"));

            RemoteException changed = assertThrows(RemoteException.class, () -> lm.on(remote).trace("Once", tr -> {
                ((RMSNorm) lm.get("model.norm").module()).weight().detach().mul_(new Scalar(2.0));
                return null;
            }));

            assertTrue(changed.getMessage().contains("model '" + lm.key() + "' is unavailable: the model's weights could "
                    + "not be restored after a job changed [model.norm.weight]"), changed.getMessage());
            JsonObject status = http.status().getAsJsonArray("models").get(0).getAsJsonObject();
            assertEquals("UNAVAILABLE", status.get("state").getAsString());
            RemoteException next = assertThrows(RemoteException.class,
                    () -> lm.on(remote).trace("Once", tr -> lm.get("lm_head").output().size(1)));
            assertTrue(next.getMessage().contains("503") && next.getMessage().contains("is unavailable"),
                    next.getMessage());
        }
    }
}
