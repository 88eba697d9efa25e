package io.nnsight.remote.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.nnsight.NNsight;
import io.nnsight.lm.Generation;
import io.nnsight.lm.LanguageModel;
import io.nnsight.lm.Shared;
import io.nnsight.nn.Linear;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code NNsight.exportEdits} and {@code importEdits}: edits written to a file and read back run as the
 * original edits do; a file that is not one, was changed, belongs to another model or holds code that imported
 * code may not run is refused before anything of it is loaded, saying which.
 */
class EditFilesTest {
    private static final String PROMPT = Shared.STORIES_PROMPT;
    /** Read by an edit: its value travels in the file. */
    private static double steering;

    private static LanguageModel lm;

    @TempDir
    Path folder;

    @BeforeAll
    static void load() {
        lm = Shared.stories();
        steering = 0.25;
    }

    private static Tensor logits(NNsight model) {
        return model.trace(PROMPT, tr -> lm.get("lm_head").output().select(1, -1));
    }

    /** Two edits: one that captures a tensor, one that reads a static field. */
    private static LanguageModel steered() {
        Tensor direction = torch.full(new long[] {64}, new Scalar(0.5));
        return lm.edit(tr -> lm.get("model.layers.1").output().add_(direction))
                .edit(tr -> lm.get("model.layers.3.mlp").output().mul_(new Scalar(steering)));
    }

    @Test
    void importEdits_ofExportedEdits_runsThemAsTheOriginalDoes() throws IOException {
        LanguageModel steered = steered();
        Path file = folder.resolve("steer.nnedits");
        steered.exportEdits(file);

        LanguageModel imported = lm.importEdits(file);

        assertEquals(2, imported.edits().size());
        assertTrue(lm.edits().isEmpty(), "the wrapper imported into keeps its own edits");
        assertTrue(logits(imported).equal(logits(steered)));
        assertFalse(logits(imported).equal(logits(lm)), "the edits change the logits");
        Generation three = Generation.maxNewTokens(3);
        assertTrue(imported.generate(PROMPT, three, tr -> lm.generator().output())
                .equal(steered.generate(PROMPT, three, tr -> lm.generator().output())));
    }

    @Test
    void importEdits_addsTheFilesEditsAfterTheWrappersOwn() throws IOException {
        Path file = folder.resolve("steer.nnedits");
        steered().exportEdits(file);
        LanguageModel ablated = lm.edit(tr -> lm.get("model.layers.0.mlp").output().zero_());

        LanguageModel both = ablated.importEdits(file);

        assertEquals(3, both.edits().size());
        assertNotSame(ablated, both);
        assertEquals(1, ablated.edits().size());
        Tensor direction = torch.full(new long[] {64}, new Scalar(0.5));
        LanguageModel expected = ablated.edit(tr -> lm.get("model.layers.1").output().add_(direction))
                .edit(tr -> lm.get("model.layers.3.mlp").output().mul_(new Scalar(steering)));
        assertTrue(logits(both).equal(logits(expected)));
    }

    @Test
    void importEdits_ofAChangedFile_isRefused_sayingItChanged() throws IOException {
        Path file = folder.resolve("steer.nnedits");
        steered().exportEdits(file);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 1] ^= 1;
        Files.write(file, bytes);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> lm.importEdits(file));

        assertTrue(error.getMessage().contains("was changed since it was written"), error.getMessage());
    }

    @Test
    void importEdits_ofAnEarlierFormat_isRefused_sayingToExportAgain() throws IOException {
        Path file = folder.resolve("steer.nnedits");
        steered().exportEdits(file);
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer.wrap(bytes, "NNSEDITS".length(), Integer.BYTES).putInt(1); // format 1 held the statics last
        Files.write(file, bytes);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> lm.importEdits(file));

        assertTrue(error.getMessage().contains("has edits in format 1; this nnsight reads format 2: export them again"),
                error.getMessage());
        assertTrue(logits(lm).equal(logits(lm.withoutEdits())), "the model runs on");
    }

    @Test
    void importEdits_ofAnotherModelsEdits_isRefused_namingBoth() throws IOException {
        Path file = folder.resolve("steer.nnedits");
        steered().exportEdits(file);
        NNsight other = NNsight.wrap(new Linear(4, 4));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> other.importEdits(file));

        assertTrue(error.getMessage().contains("'stories260K'") && error.getMessage().contains("'" + other.key() + "'"),
                error.getMessage());
    }

    @Test
    void importEdits_ofCodeThatReadsFiles_isRefusedBeforeLoadingIt_namingWhatItUsed() throws IOException {
        String secret = Files.writeString(folder.resolve("secret.txt"), "42").toString();
        Path file = folder.resolve("leak.nnedits");
        lm.edit(tr -> lm.get("model.layers.0").output().add_(new Scalar(Files.exists(Path.of(secret)) ? 1 : 0))).exportEdits(file);

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> lm.importEdits(file));

        assertTrue(error.getMessage().contains("nothing of them was loaded"), error.getMessage());
        assertTrue(error.getMessage().contains("java.nio.file.Files"), error.getMessage());
        assertTrue(logits(lm).equal(logits(lm.withoutEdits())), "the model runs on");
    }

    @Test
    void importEdits_ofAMissingFile_isNoSuchFile_suggestingCloseNames() throws IOException {
        steered().exportEdits(folder.resolve("steer.nnedits"));

        NoSuchFileException error = assertThrows(NoSuchFileException.class,
                () -> lm.importEdits(folder.resolve("steer.nnedit")));

        assertTrue(error.getMessage().contains("did you mean steer.nnedits?"), error.getMessage());
    }

    @Test
    void importEdits_ofAnotherKindOfFile_isRefused() throws IOException {
        Path file = Files.writeString(folder.resolve("notes.txt"), "zero layer 2");

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> lm.importEdits(file));

        assertTrue(error.getMessage().contains("is not a file of edits"), error.getMessage());
    }

    @Test
    void exportEdits_ofAWrapperWithoutEdits_isRefused() {
        IllegalStateException error = assertThrows(IllegalStateException.class,
                () -> lm.exportEdits(folder.resolve("none.nnedits")));

        assertTrue(error.getMessage().contains("has no edits to export"), error.getMessage());
        assertFalse(Files.exists(folder.resolve("none.nnedits")));
    }

    @Test
    void exportEdits_ofAnEditCapturingANativeObject_isRefused_writingNothing() {
        Scalar half = new Scalar(0.5);
        LanguageModel edited = lm.edit(tr -> lm.get("model.layers.0").output().mul_(half));

        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> edited.exportEdits(folder.resolve("half.nnedits")));

        assertTrue(error.getMessage().contains("Scalar"), error.getMessage());
        assertFalse(Files.exists(folder.resolve("half.nnedits")));
    }
}
